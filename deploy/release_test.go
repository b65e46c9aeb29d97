package deploy_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/store"
)

// releasePulls are the pull requests from the release branch.
func releasePulls(gh *fakegithub.Server) []fakegithub.PullRequest {
	var pulls []fakegithub.PullRequest
	for _, pr := range gh.PullRequests() {
		if pr.Head == branch {
			pulls = append(pulls, pr)
		}
	}
	return pulls
}

func TestReleaseCutsTheBranchFromDevelopAndOpensThePullRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	develop, ok := b.gh.Branch("develop")
	require.True(t, ok)

	reply, err := b.svc.StartRelease(b.ctx, actor(alice), version)
	require.NoError(t, err)
	require.Contains(t, reply.Text, "Starting release v1.0.0: cutting release/v1.0.0 from develop")
	run, err := b.store.GetRunByKey(b.ctx, "release:acme/analytics:v1.0.0")
	require.NoError(t, err)
	run = b.drive(t, run.ID, ended, nil)

	require.Equal(t, store.RunSucceeded, run.State, describe(run))
	require.Equal(t, develop, b.releaseHead(t), "the release branch starts at develop's head")
	pulls := releasePulls(b.gh)
	require.Len(t, pulls, 1)
	pr := pulls[0]
	require.Equal(t, "main", pr.Base)
	require.Equal(t, "open", pr.State)
	require.Equal(t, "Release v1.0.0", pr.Title)
	require.Contains(t, pr.Body, "## What's Changed", "the body is GitHub's generated release notes")
	require.Contains(t, pr.Body, "Cache dashboard queries in Redis")
	require.Contains(t, pr.Body, "compare/v0.9.0...v1.0.0", "the notes start at the newest release")

	card := b.card(t, run.ID)
	require.Contains(t, card, "Ready to deploy: `/deploy v1.0.0`")
	require.Contains(t, card, "https://github.com/acme/analytics/pull/")
	require.Contains(t, card, "*In this release* (4 commits)")
	require.Contains(t, card, "Bump pgx to v5.12.0")
	require.Contains(t, card, "☐ Rollback procedure has been reviewed", "the card carries the runbook's checklist")
}

func TestReleaseTwiceShowsTheExistingRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pr := b.cutRelease(t)
	before := b.gh.Calls().ByRoute

	reply, err := b.svc.StartRelease(b.ctx, actor(carol), version)

	require.NoError(t, err)
	require.Contains(t, reply.Text, "Release v1.0.0 already exists")
	require.Contains(t, reply.Text, "Nothing new was created")
	require.Contains(t, reply.Text, "started by <@U0ALICE>")
	require.Contains(t, reply.Text, fmt.Sprintf("/pull/%d|PR #%d>", pr, pr))
	require.Len(t, releasePulls(b.gh), 1)
	after := b.gh.Calls().ByRoute
	for _, write := range []string{"POST /repos/{owner}/{repo}/git/refs", "POST /repos/{owner}/{repo}/pulls"} {
		require.Equal(t, 1, after[write], "%s is sent once", write)
		require.Equal(t, before[write], after[write], "%s is not sent again", write)
	}
	runs, err := b.store.ListRuns(b.ctx, store.RunQuery{Kinds: []store.RunKind{store.KindRelease}})
	require.NoError(t, err)
	require.Len(t, runs, 1)
}

func TestReleaseOfAVersionNotNewerThanTheLatestTagIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, v := range []string{"v0.9.0", "v0.8.3", "v0.9.0-rc.1"} {
		t.Run(v, func(t *testing.T) {
			_, err := b.svc.StartRelease(b.ctx, actor(alice), v)

			requireRefused(t, err, v+" is not newer than the newest release, v0.9.0. Pick a higher version, e.g. v0.9.1.")
			_, exists := b.gh.Branch("release/" + v)
			require.False(t, exists)
		})
	}
	runs, err := b.store.ListRuns(b.ctx, store.RunQuery{})
	require.NoError(t, err)
	require.Empty(t, runs, "a refused release records nothing")
}
