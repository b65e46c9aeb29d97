package fakegithub_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

// cutRelease creates release/v1.0.0 from develop and opens its pull request into main, as the
// runbook's first two steps do.
func cutRelease(t *testing.T, b testBundle) *github.PullRequest {
	t.Helper()
	developHead, _ := b.srv.Branch("develop")
	_, _, err := b.gh.Git.CreateRef(b.ctx, owner, repo, &github.Reference{
		Ref: github.String("refs/heads/release/v1.0.0"), Object: &github.GitObject{SHA: github.String(developHead)},
	})
	require.NoError(t, err)
	pr, _, err := b.gh.PullRequests.Create(b.ctx, owner, repo, &github.NewPullRequest{
		Title: github.String("Release v1.0.0"), Head: github.String("release/v1.0.0"), Base: github.String("main"),
	})
	require.NoError(t, err)
	return pr
}

func TestReleaseRunbook(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	ctx, gh := b.ctx, b.gh
	pr := cutRelease(t, b)
	require.Equal(t, 9, pr.GetNumber())
	require.True(t, pr.GetMergeable())
	require.Equal(t, 4, pr.GetCommits())

	require.NoError(t, b.srv.AddReview(pr.GetNumber(), "erin", "APPROVED"))
	reviews, _, err := gh.PullRequests.ListReviews(ctx, owner, repo, pr.GetNumber(), nil)
	require.NoError(t, err)
	require.Len(t, reviews, 1)
	require.Equal(t, "erin", reviews[0].GetUser().GetLogin())
	require.Equal(t, pr.GetHead().GetSHA(), reviews[0].GetCommitID())

	result, _, err := gh.PullRequests.Merge(ctx, owner, repo, pr.GetNumber(), "", &github.PullRequestOptions{
		SHA: pr.GetHead().GetSHA(), MergeMethod: "merge",
	})
	require.NoError(t, err)
	require.True(t, result.GetMerged())
	mainHead, _ := b.srv.Branch("main")
	require.Equal(t, mainHead, result.GetSHA())
	merged, _, err := gh.PullRequests.IsMerged(ctx, owner, repo, pr.GetNumber())
	require.NoError(t, err)
	require.True(t, merged)

	notes, _, err := gh.Repositories.GenerateReleaseNotes(ctx, owner, repo, &github.GenerateNotesOptions{TagName: "v1.0.0"})
	require.NoError(t, err)
	require.Equal(t, "v1.0.0", notes.Name)
	require.Equal(t, "## What's Changed\n"+
		"* Add Slack notifications for failed imports by @alice in https://github.com/acme/analytics/pull/4\n"+
		"* Fix time zone in daily report by @bob in https://github.com/acme/analytics/pull/5\n"+
		"* Bump pgx to v5.12.0 by @carol in https://github.com/acme/analytics/pull/6\n"+
		"* Cache dashboard queries in Redis by @dave in https://github.com/acme/analytics/pull/7\n"+
		"* Release v1.0.0 by @opsbot in https://github.com/acme/analytics/pull/9\n\n"+
		"**Full Changelog**: https://github.com/acme/analytics/compare/v0.9.0...v1.0.0", notes.Body)

	release, _, err := gh.Repositories.CreateRelease(ctx, owner, repo, &github.RepositoryRelease{
		TagName: github.String("v1.0.0"), TargetCommitish: github.String("main"), GenerateReleaseNotes: github.Bool(true),
	})
	require.NoError(t, err)
	require.Equal(t, notes.Body, release.GetBody())

	require.Equal(t, []fakegithub.Merge{{PullRequest: 9, Method: "merge", Base: "main", SHA: mainHead,
		At: b.srv.Merges()[0].At}}, b.srv.Merges())
	tags := b.srv.Tags()
	require.Equal(t, []string{"v0.9.0", "v1.0.0"}, []string{tags[0].Name, tags[1].Name})
	require.Equal(t, mainHead, tags[1].SHA, "creating the release created the tag on main")
	require.Len(t, b.srv.Releases(), 2)
	runs := b.srv.WorkflowRuns()
	require.Equal(t, "v1.0.0", runs[len(runs)-1].Tag, "pushing the tag started the deploy workflow")

	_, _, err = gh.Repositories.CreateRelease(ctx, owner, repo, &github.RepositoryRelease{TagName: github.String("v1.0.0")})
	requireStatus(t, err, http.StatusUnprocessableEntity, "Validation Failed")
}

func TestMergeMethods(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method      string
		wantParents int
		wantMessage string // of the new head of main
		newCommits  int    // commits that main gains
	}{
		{"merge", 2, "Merge pull request #9 from acme/release/v1.0.0\n\nRelease v1.0.0", 5},
		{"squash", 1, "Release v1.0.0 (#9)\n\n* Add Slack notifications", 1},
		{"rebase", 1, "Cache dashboard queries in Redis (#7)", 4},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakegithub.Options{})
			pr := cutRelease(t, b)
			before, _ := b.srv.Branch("main")

			result, _, err := b.gh.PullRequests.Merge(b.ctx, owner, repo, pr.GetNumber(), "",
				&github.PullRequestOptions{MergeMethod: c.method})
			require.NoError(t, err)

			head, _, err := b.gh.Git.GetCommit(b.ctx, owner, repo, result.GetSHA())
			require.NoError(t, err)
			require.Len(t, head.Parents, c.wantParents)
			require.True(t, strings.HasPrefix(head.GetMessage(), c.wantMessage), head.GetMessage())
			comparison, _, err := b.gh.Repositories.CompareCommits(b.ctx, owner, repo, before, "main", nil)
			require.NoError(t, err)
			require.Equal(t, c.newCommits, comparison.GetAheadBy())

			got, _, err := b.gh.PullRequests.Get(b.ctx, owner, repo, pr.GetNumber())
			require.NoError(t, err)
			require.Equal(t, "closed", got.GetState())
			require.True(t, got.GetMerged())
			require.Equal(t, result.GetSHA(), got.GetMergeCommitSHA())
		})
	}
}

func TestMergeRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	ctx, gh := b.ctx, b.gh
	pr := cutRelease(t, b)
	approvedHead := pr.GetHead().GetSHA()

	moved, err := b.srv.PushCommit("release/v1.0.0", "Bump version to 1.0.0")
	require.NoError(t, err)
	got, _, err := gh.PullRequests.Get(ctx, owner, repo, pr.GetNumber())
	require.NoError(t, err)
	require.Equal(t, moved, got.GetHead().GetSHA(), "the pull request follows its branch")

	_, _, err = gh.PullRequests.Merge(ctx, owner, repo, pr.GetNumber(), "", &github.PullRequestOptions{SHA: approvedHead})
	requireStatus(t, err, http.StatusConflict, "Head branch was modified")
	require.Empty(t, b.srv.Merges())

	_, _, err = gh.PullRequests.Merge(ctx, owner, repo, 8, "", nil)
	requireStatus(t, err, http.StatusMethodNotAllowed, "Pull Request is not mergeable")

	_, _, err = gh.PullRequests.Merge(ctx, owner, repo, pr.GetNumber(), "", &github.PullRequestOptions{SHA: moved})
	require.NoError(t, err)
	_, _, err = gh.PullRequests.Merge(ctx, owner, repo, pr.GetNumber(), "", nil)
	requireStatus(t, err, http.StatusMethodNotAllowed, "Pull Request is not mergeable")
	require.Len(t, b.srv.Merges(), 1)

	_, _, err = gh.PullRequests.Create(ctx, owner, repo, &github.NewPullRequest{
		Title: github.String("Again"), Head: github.String("release/v1.0.0"), Base: github.String("main"),
	})
	requireStatus(t, err, http.StatusUnprocessableEntity, "Validation Failed")

	_, _, err = gh.PullRequests.Get(ctx, owner, repo, 99)
	requireStatus(t, err, http.StatusNotFound, "Not Found")
}

func TestTeammateLandsTheNextFeatureAfterARelease(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{Teammate: true})
	pr := cutRelease(t, b)
	developBefore, _ := b.srv.Branch("develop")

	_, _, err := b.gh.PullRequests.Merge(b.ctx, owner, repo, pr.GetNumber(), "", &github.PullRequestOptions{SHA: pr.GetHead().GetSHA()})
	require.NoError(t, err)

	developAfter, _ := b.srv.Branch("develop")
	require.NotEqual(t, developBefore, developAfter, "a new feature landed on develop")
	cmp, _, err := b.gh.Repositories.CompareCommits(b.ctx, owner, repo, developBefore, developAfter, nil)
	require.NoError(t, err)
	require.Equal(t, 1, cmp.GetAheadBy())
	require.Equal(t, "Add CSV export to reports", cmp.Commits[0].GetCommit().GetMessage())

	status, _, err := b.gh.Repositories.GetCombinedStatus(b.ctx, owner, repo, developAfter, nil)
	require.NoError(t, err)
	require.Equal(t, "success", status.GetState(), "its CI is green")
	deployments, _, err := b.gh.Repositories.ListDeployments(b.ctx, owner, repo, &github.DeploymentsListOptions{SHA: developAfter, Environment: "development"})
	require.NoError(t, err)
	require.Len(t, deployments, 1, "it is deployed to development")
	statuses, _, err := b.gh.Repositories.ListDeploymentStatuses(b.ctx, owner, repo, deployments[0].GetID(), nil)
	require.NoError(t, err)
	require.Equal(t, "success", statuses[0].GetState(), "newest status first")
	require.False(t, statuses[0].GetCreatedAt().After(b.clock.Now()), "and it succeeded already, not in the future")
}
