//go:build !nosandbox

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// TestApproveClickedTwiceIsOneApprovalAndOneMerge sends Bob's Approve as two envelopes at
// once — a double click, or the same button pressed in two Slack clients — through the real
// serve path. Both are acknowledged and audited; one approves, the other is told it counted
// once; the deploy merges (and tags) once.
func TestApproveClickedTwiceIsOneApprovalAndOneMerge(t *testing.T) {
	t.Parallel()
	b := startTestBot(t, testBotOptions{github: fakegithub.Options{Reviewer: "erin"}})
	ctx := context.Background()
	title := "Deploy v1.0.0 → production"
	b.slash(fakeslack.Alice, fakeslack.Deploys, "/release", "v1.0.0")
	b.run(store.KindRelease, "Release v1.0.0", func(r store.Run) bool { return r.State == store.RunSucceeded })
	b.slash(fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.0.0")
	b.tickChecklist(title)
	b.run(store.KindDeploy, title, stepIs("approval", store.StepWaiting))
	require.Eventually(t, func() bool { return len(botPosts(b.sb, fakeslack.Deploys, "is ready for production")) == 1 }, waitFor, tick)
	value := buttonValue(t, botPosts(b.sb, fakeslack.Deploys, "is ready for production")[0], "deploy.approve")
	audits, err := b.app.Store.ListAudit(ctx, store.AuditQuery{Actor: fakeslack.Bob})
	require.NoError(t, err)

	// The genuine button twice, each press its own envelope. (Slack's confirmation dialog is
	// left out: what reaches the bot after it is this block_actions.)
	for i := range 2 {
		label := fmt.Sprintf("Approve (client %d)", i+1)
		button := slack.NewButtonBlockElement("deploy.approve", value, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
		_, err := b.web.PostEphemeral(fakeslack.Deploys, fakeslack.Bob, slack.MsgOptionText(label, false),
			slack.MsgOptionBlocks(slack.NewActionBlock("", button)))
		require.NoError(t, err)
	}
	var (
		clicks sync.WaitGroup
		acked  [2]bool
		errs   [2]error
	)
	for i := range 2 {
		clicks.Go(func() {
			d, err := b.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, fmt.Sprintf("Approve (client %d)", i+1))
			acked[i], errs[i] = d.Acked, err
		})
	}
	clicks.Wait()
	for i := range 2 {
		require.NoError(t, errs[i])
		require.True(t, acked[i], "press %d acknowledged", i+1)
	}

	b.run(store.KindDeploy, title, stepIs("tag", store.StepPassed))
	require.Len(t, b.sb.GitHub.Merges(), 1, "one merge")
	b.audited(fakeslack.Bob, len(audits)+2)
	replies := func() (approved, once int) {
		for _, text := range shownTo(b.sb, fakeslack.Deploys, fakeslack.Bob) {
			switch {
			case strings.HasPrefix(text, "You approved"):
				approved++
			case strings.HasPrefix(text, "You already approved"):
				once++
			}
		}
		return approved, once
	}
	require.Eventually(t, func() bool { approved, once := replies(); return approved+once == 2 }, waitFor, tick,
		"both presses are answered: %q", shownTo(b.sb, fakeslack.Deploys, fakeslack.Bob))
	approved, once := replies()
	require.Equal(t, 1, approved, "one press approves")
	require.Equal(t, 1, once, "the other is told it counted once")
}
