package fakegithub_test

import (
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

func TestSeedAsTheRealClientReadsIt(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	ctx, gh := b.ctx, b.gh

	repository, _, err := gh.Repositories.Get(ctx, owner, repo)
	require.NoError(t, err)
	require.Equal(t, "main", repository.GetDefaultBranch())

	mainHead, _ := b.srv.Branch("main")
	developHead, _ := b.srv.Branch("develop")
	branch, _, err := gh.Repositories.GetBranch(ctx, owner, repo, "develop", 1)
	require.NoError(t, err)
	require.Equal(t, developHead, branch.GetCommit().GetSHA())

	comparison, _, err := gh.Repositories.CompareCommits(ctx, owner, repo, "main", "develop", nil)
	require.NoError(t, err)
	require.Equal(t, "ahead", comparison.GetStatus())
	require.Equal(t, 4, comparison.GetAheadBy())
	require.Equal(t, 0, comparison.GetBehindBy())
	require.Equal(t, mainHead, comparison.GetMergeBaseCommit().GetSHA())
	var messages []string
	for _, c := range comparison.Commits {
		messages = append(messages, c.GetCommit().GetMessage())
	}
	require.Equal(t, []string{
		"Add Slack notifications for failed imports (#4)\n\n* Add Slack notifications for failed imports",
		"Fix time zone in daily report (#5)\n\n* Fix time zone in daily report",
		"Bump pgx to v5.12.0 (#6)\n\n* Bump pgx to v5.12.0",
		"Cache dashboard queries in Redis (#7)\n\n* Cache dashboard queries in Redis",
	}, messages)
	require.Equal(t, "dave", comparison.Commits[3].GetAuthor().GetLogin())

	checks, _, err := gh.Checks.ListCheckRunsForRef(ctx, owner, repo, "develop", nil)
	require.NoError(t, err)
	require.Equal(t, 2, checks.GetTotal())
	for _, run := range checks.CheckRuns {
		require.Equal(t, "success", run.GetConclusion(), run.GetName())
	}
	combined, _, err := gh.Repositories.GetCombinedStatus(ctx, owner, repo, "develop", nil)
	require.NoError(t, err)
	require.Equal(t, "success", combined.GetState())
	require.Equal(t, 1, combined.GetTotalCount())

	deployments, _, err := gh.Repositories.ListDeployments(ctx, owner, repo,
		&github.DeploymentsListOptions{Environment: "development"})
	require.NoError(t, err)
	require.Len(t, deployments, 1)
	require.Equal(t, developHead, deployments[0].GetSHA())
	require.WithinDuration(t, b.clock.Now().Add(-25*time.Hour), deployments[0].GetCreatedAt().Time, time.Minute)
	statuses, _, err := gh.Repositories.ListDeploymentStatuses(ctx, owner, repo, deployments[0].GetID(), nil)
	require.NoError(t, err)
	require.Equal(t, "success", statuses[0].GetState(), "newest status first")

	production, _, err := gh.Repositories.ListDeployments(ctx, owner, repo,
		&github.DeploymentsListOptions{Environment: "production"})
	require.NoError(t, err)
	require.Len(t, production, 1)
	require.Equal(t, "v0.9.0", production[0].GetRef())

	ref, _, err := gh.Git.GetRef(ctx, owner, repo, "tags/v0.9.0")
	require.NoError(t, err)
	require.Equal(t, "tag", ref.GetObject().GetType())
	tag, _, err := gh.Git.GetTag(ctx, owner, repo, ref.GetObject().GetSHA())
	require.NoError(t, err)
	require.Equal(t, mainHead, tag.GetObject().GetSHA())

	release, _, err := gh.Repositories.GetReleaseByTag(ctx, owner, repo, "v0.9.0")
	require.NoError(t, err)
	require.Contains(t, release.GetBody(), "* Add CSV export of dashboards by @alice in https://github.com/acme/analytics/pull/1")
	latest, _, err := gh.Repositories.GetLatestRelease(ctx, owner, repo)
	require.NoError(t, err)
	require.Equal(t, release.GetID(), latest.GetID())

	runs, _, err := gh.Actions.ListWorkflowRunsByFileName(ctx, owner, repo, "deploy.yml", nil)
	require.NoError(t, err)
	require.Equal(t, 1, runs.GetTotalCount())
	require.Equal(t, "completed", runs.WorkflowRuns[0].GetStatus())
	require.Equal(t, "success", runs.WorkflowRuns[0].GetConclusion())
	require.Equal(t, "v0.9.0", runs.WorkflowRuns[0].GetHeadBranch())

	pulls, _, err := gh.PullRequests.List(ctx, owner, repo, &github.PullRequestListOptions{State: "all"})
	require.NoError(t, err)
	require.Len(t, pulls, 8)
	open, _, err := gh.PullRequests.List(ctx, owner, repo, nil)
	require.NoError(t, err)
	require.Len(t, open, 1)
	require.Equal(t, 8, open[0].GetNumber())
	reviews, _, err := gh.PullRequests.ListReviews(ctx, owner, repo, 7, nil)
	require.NoError(t, err)
	require.Len(t, reviews, 1)
	require.Equal(t, "APPROVED", reviews[0].GetState())

	require.Empty(t, b.srv.Merges(), "the seed's merges are history, not something a test did")
}
