//go:build !nosandbox

package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// TestAReadOnlyDatabaseIsSaidAndARestartRecovers serves on a SQLite file that refuses writes,
// as a full disk or a read-only mount would: /release is answered with what is wrong and that
// nothing was started, and nothing is half-written. Served again on a writable file, the same
// command works.
func TestAReadOnlyDatabaseIsSaidAndARestartRecovers(t *testing.T) {
	t.Parallel()
	b := startTestBot(t, testBotOptions{})
	ctx := context.Background()

	// mode=ro is how SQLite opens a file it may not write (a chmod would not stop root).
	writable := b.cfg.Store.Path
	require.NoError(t, b.stop())
	b.cfg.Store.Path = "file:" + writable + "?mode=ro"
	b.start()
	b.slash(fakeslack.Alice, fakeslack.Deploys, "/release", "v1.0.0")
	b.shown(fakeslack.Alice, fakeslack.Deploys, "I can't start or change anything right now: my database is unreachable. "+
		"Nothing was started or changed — please try again in a minute.")
	_, cut := b.sb.GitHub.Branch("release/v1.0.0")
	require.False(t, cut, "nothing was done on GitHub")

	require.NoError(t, b.stop())
	b.cfg.Store.Path = writable
	b.start()
	runs, err := b.app.Store.ListRuns(ctx, store.RunQuery{})
	require.NoError(t, err)
	require.Empty(t, runs, "no run was half-written")
	b.slash(fakeslack.Alice, fakeslack.Deploys, "/release", "v1.0.0")
	release := b.run(store.KindRelease, "Release v1.0.0", func(r store.Run) bool { return r.State.Final() })
	require.Equal(t, store.RunSucceeded, release.State, describeRun(release))
}
