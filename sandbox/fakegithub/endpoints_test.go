package fakegithub_test

import (
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

// TestLookups covers the read endpoints no other test needs, each answered in GitHub's shape
// (checked against the description when it is available).
func TestLookups(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	ctx, gh := b.ctx, b.gh
	developHead, _ := b.srv.Branch("develop")
	seeded := b.srv.Releases()[0]
	production := b.srv.Deployments()[0]

	cases := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"commit by branch name", func(t *testing.T) {
			commit, _, err := gh.Repositories.GetCommit(ctx, owner, repo, "develop", nil)
			require.NoError(t, err)
			require.Equal(t, developHead, commit.GetSHA())
		}},
		{"commit by abbreviated sha", func(t *testing.T) {
			commit, _, err := gh.Repositories.GetCommit(ctx, owner, repo, developHead[:7], nil)
			require.NoError(t, err)
			require.Equal(t, developHead, commit.GetSHA())
		}},
		{"commit statuses", func(t *testing.T) {
			statuses, _, err := gh.Repositories.ListStatuses(ctx, owner, repo, "develop", nil)
			require.NoError(t, err)
			require.Len(t, statuses, 1)
			require.Equal(t, "codecov/project", statuses[0].GetContext())
		}},
		{"pull request commits", func(t *testing.T) {
			commits, _, err := gh.PullRequests.ListCommits(ctx, owner, repo, 8, nil)
			require.NoError(t, err)
			require.Len(t, commits, 1)
			require.Equal(t, "Export dashboards as PDF", commits[0].GetCommit().GetMessage())
		}},
		{"conflicting pull request", func(t *testing.T) {
			pr, _, err := gh.PullRequests.Get(ctx, owner, repo, 8)
			require.NoError(t, err)
			require.False(t, pr.GetMergeable())
			require.Equal(t, "dirty", pr.GetMergeableState())
		}},
		{"pull requests by head", func(t *testing.T) {
			pulls, _, err := gh.PullRequests.List(ctx, owner, repo, &github.PullRequestListOptions{
				State: "all", Head: "acme:feature/graphql",
			})
			require.NoError(t, err)
			require.Len(t, pulls, 1)
			require.Equal(t, "closed", pulls[0].GetState())
			require.False(t, pulls[0].GetMerged())
		}},
		{"releases", func(t *testing.T) {
			releases, _, err := gh.Repositories.ListReleases(ctx, owner, repo, nil)
			require.NoError(t, err)
			require.Len(t, releases, 1)
			release, _, err := gh.Repositories.GetRelease(ctx, owner, repo, seeded.ID)
			require.NoError(t, err)
			require.Equal(t, "v0.9.0", release.GetTagName())
		}},
		{"deployment", func(t *testing.T) {
			deployment, _, err := gh.Repositories.GetDeployment(ctx, owner, repo, production.ID)
			require.NoError(t, err)
			require.Equal(t, "production", deployment.GetEnvironment())
			require.Equal(t, "github-actions[bot]", deployment.GetCreator().GetLogin())
		}},
		{"workflows", func(t *testing.T) {
			workflows, _, err := gh.Actions.ListWorkflows(ctx, owner, repo, nil)
			require.NoError(t, err)
			require.Equal(t, 1, workflows.GetTotalCount())
			byName, _, err := gh.Actions.GetWorkflowByFileName(ctx, owner, repo, "deploy.yml")
			require.NoError(t, err)
			byID, _, err := gh.Actions.GetWorkflowByID(ctx, owner, repo, byName.GetID())
			require.NoError(t, err)
			require.Equal(t, ".github/workflows/deploy.yml", byID.GetPath())
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t)
		})
	}
}
