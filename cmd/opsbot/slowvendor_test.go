//go:build !nosandbox

package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// A command that waits on a vendor must not hold up the commands behind it. On SQLite the bot
// handles one delivery at a time, and some handlers call a vendor before they answer:
// /release asks GitHub for the newest tag. A modal must be opened within 3 s of the click or
// command that asked for it, so a declaration queued behind a slow GitHub would never get
// its form.
func TestASlowGitHubDoesNotKeepAnIncidentFormFromOpening(t *testing.T) {
	t.Parallel()
	b := startTestBot(t, testBotOptions{})
	b.sb.GitHub.Latency(4 * time.Second)

	b.slash(fakeslack.Alice, fakeslack.Deploys, "/release", "v1.1.0")
	asked := time.Now()
	b.slash(fakeslack.Carol, fakeslack.Incidents, "/incident", "declare")
	require.Eventually(t, func() bool {
		_, open := b.sb.Slack.OpenView(fakeslack.Carol)
		return open
	}, 10*time.Second, 10*time.Millisecond, "Carol's declaration form never opened")
	require.Less(t, time.Since(asked), 3*time.Second, "the form opened after its trigger had expired")
}
