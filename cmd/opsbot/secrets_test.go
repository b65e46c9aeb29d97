//go:build !nosandbox

package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// lockedBuffer collects log lines from every goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestNoSecretReachesALogLineOrASlackMessage(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := startRig(ctx, environment{getenv: os.Getenv}, sandboxFlags{}, t.TempDir(),
		zerolog.New(&logs).Level(zerolog.TraceLevel))
	require.NoError(t, err)

	// A release and a deploy, refused commands, mistakes and a duplicated envelope: as much of
	// the bot's logging as a short run reaches.
	r.sb.Slack.DuplicateNext(1)
	transcript(t, r, `
/deploy v1.0
:as dave
/deploy v1.0.0
:as alice
/release v1.0.0
/deploy v1.0.0
:as bob
:click Mark done
:click Mark done
:click Mark done
:click Mark done
:click Approve
:click Approve v1.0.0
:wait 60s
/deploy history
`)
	require.NoError(t, r.stop())

	secrets := sandboxSecrets(r.sb)
	require.NotEmpty(t, secrets)
	require.NotEmpty(t, logs.String(), "the bot logged nothing: the test would prove nothing")

	var slack strings.Builder
	for _, ch := range []string{fakeslack.Deploys, fakeslack.Incidents, fakeslack.Stakeholders} {
		for _, m := range r.sb.Slack.Messages(ch) {
			slack.WriteString(m.Text)
			slack.Write(m.Blocks)
			slack.WriteString("\n")
		}
	}
	for name, value := range secrets {
		require.NotContains(t, logs.String(), value, "%s appears in the logs", name)
		require.NotContains(t, slack.String(), value, "%s appears in a Slack message", name)
	}
}
