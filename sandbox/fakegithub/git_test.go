package fakegithub_test

import (
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

func TestRefs(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	ctx, gh := b.ctx, b.gh
	developHead, _ := b.srv.Branch("develop")
	mainHead, _ := b.srv.Branch("main")

	created, _, err := gh.Git.CreateRef(ctx, owner, repo, &github.Reference{
		Ref: github.String("refs/heads/release/v1.0.0"), Object: &github.GitObject{SHA: github.String(developHead)},
	})
	require.NoError(t, err)
	require.Equal(t, "refs/heads/release/v1.0.0", created.GetRef())

	got, _, err := gh.Git.GetRef(ctx, owner, repo, "heads/release/v1.0.0")
	require.NoError(t, err, "a ref with slashes, sent unescaped as go-github does")
	require.Equal(t, developHead, got.GetObject().GetSHA())

	matching, _, err := gh.Git.ListMatchingRefs(ctx, owner, repo, &github.ReferenceListOptions{Ref: "heads/release/"})
	require.NoError(t, err)
	require.Len(t, matching, 1)

	pushed, err := b.srv.PushCommit("main", "Hotfix: guard against empty reports")
	require.NoError(t, err)
	_, _, err = gh.Git.UpdateRef(ctx, owner, repo, &github.Reference{
		Ref: github.String("heads/release/v1.0.0"), Object: &github.GitObject{SHA: github.String(pushed)},
	}, false)
	requireStatus(t, err, http.StatusUnprocessableEntity, "Update is not a fast forward")
	forced, _, err := gh.Git.UpdateRef(ctx, owner, repo, &github.Reference{
		Ref: github.String("heads/release/v1.0.0"), Object: &github.GitObject{SHA: github.String(mainHead)},
	}, true)
	require.NoError(t, err)
	require.Equal(t, mainHead, forced.GetObject().GetSHA())

	_, err = gh.Git.DeleteRef(ctx, owner, repo, "heads/release/v1.0.0")
	require.NoError(t, err)
	_, ok := b.srv.Branch("release/v1.0.0")
	require.False(t, ok)

	errorCases := []struct {
		name    string
		call    func() error
		status  int
		message string
	}{
		{"unknown ref", func() error {
			_, _, err := gh.Git.GetRef(ctx, owner, repo, "heads/release/v9.9.9")
			return err
		}, http.StatusNotFound, "Not Found"},
		{"ref already exists", func() error {
			_, _, err := gh.Git.CreateRef(ctx, owner, repo, &github.Reference{
				Ref: github.String("refs/heads/develop"), Object: &github.GitObject{SHA: github.String(mainHead)},
			})
			return err
		}, http.StatusUnprocessableEntity, "Reference already exists"},
		{"ref to an unknown object", func() error {
			_, _, err := gh.Git.CreateRef(ctx, owner, repo, &github.Reference{
				Ref:    github.String("refs/heads/nowhere"),
				Object: &github.GitObject{SHA: github.String("1234567890123456789012345678901234567890")},
			})
			return err
		}, http.StatusUnprocessableEntity, "Object does not exist"},
		{"delete a missing ref", func() error {
			_, err := gh.Git.DeleteRef(ctx, owner, repo, "heads/release/v1.0.0")
			return err
		}, http.StatusUnprocessableEntity, "Reference does not exist"},
		{"commit that does not exist", func() error {
			_, _, err := gh.Repositories.GetCommit(ctx, owner, repo, "no-such-branch", nil)
			return err
		}, http.StatusUnprocessableEntity, "No commit found for SHA: no-such-branch"},
		{"another repository", func() error {
			_, _, err := gh.Git.GetRef(ctx, owner, "billing", "heads/main")
			return err
		}, http.StatusNotFound, "Not Found"},
	}
	for _, c := range errorCases {
		t.Run(c.name, func(t *testing.T) {
			requireStatus(t, c.call(), c.status, c.message)
		})
	}

	// go-github v60 reports a missing branch as a bare status error, not an ErrorResponse.
	_, resp, err := gh.Repositories.GetBranch(ctx, owner, repo, "release/v9.9.9", 1)
	require.ErrorContains(t, err, "404")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestAnnotatedTagTriggersTheDeployWorkflow(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	ctx, gh := b.ctx, b.gh
	mainHead, _ := b.srv.Branch("main")

	tagObject, _, err := gh.Git.CreateTag(ctx, owner, repo, &github.Tag{
		Tag: github.String("v1.0.0"), Message: github.String("Release v1.0.0"),
		Object: &github.GitObject{Type: github.String("commit"), SHA: github.String(mainHead)},
	})
	require.NoError(t, err)
	require.Equal(t, "opsbot@example.com", tagObject.GetTagger().GetEmail())
	_, _, err = gh.Git.CreateRef(ctx, owner, repo, &github.Reference{
		Ref: github.String("refs/tags/v1.0.0"), Object: &github.GitObject{SHA: tagObject.SHA},
	})
	require.NoError(t, err)

	require.Contains(t, b.srv.Tags(), fakegithub.Tag{Name: "v1.0.0", SHA: mainHead, Annotated: true, Message: "Release v1.0.0"})
	runs := b.srv.WorkflowRuns()
	newest := runs[len(runs)-1]
	require.Equal(t, "push", newest.Event)
	require.Equal(t, "v1.0.0", newest.Tag)
	require.Equal(t, mainHead, newest.HeadSHA)
	require.Equal(t, "queued", newest.Status)

	_, _, err = gh.Git.CreateRef(ctx, owner, repo, &github.Reference{
		Ref: github.String("refs/tags/nightly"), Object: &github.GitObject{SHA: github.String(mainHead)},
	})
	require.NoError(t, err)
	require.Len(t, b.srv.WorkflowRuns(), len(runs), "a tag outside v* does not start the workflow")

	tags, _, err := gh.Repositories.ListTags(ctx, owner, repo, nil)
	require.NoError(t, err)
	require.Len(t, tags, 3)
}

func TestCompare(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	hotfix, err := b.srv.PushCommit("main", "Hotfix: guard against empty reports")
	require.NoError(t, err)

	cases := []struct {
		base, head            string
		status                string
		aheadBy, behindBy     int
		newestCommitOfCompare string
	}{
		{base: "v0.9.0", head: "develop", status: "ahead", aheadBy: 4,
			newestCommitOfCompare: "Cache dashboard queries in Redis (#7)\n\n* Cache dashboard queries in Redis"},
		{base: "develop", head: "v0.9.0", status: "behind", behindBy: 4},
		{base: "develop", head: "develop", status: "identical"},
		{base: "main", head: "develop", status: "diverged", aheadBy: 4, behindBy: 1,
			newestCommitOfCompare: "Cache dashboard queries in Redis (#7)\n\n* Cache dashboard queries in Redis"},
		{base: "develop", head: hotfix[:7], status: "diverged", aheadBy: 1, behindBy: 4,
			newestCommitOfCompare: "Hotfix: guard against empty reports"},
	}
	for _, c := range cases {
		t.Run(c.base+"..."+c.head, func(t *testing.T) {
			t.Parallel()
			comparison, _, err := b.gh.Repositories.CompareCommits(b.ctx, owner, repo, c.base, c.head, nil)
			require.NoError(t, err)
			require.Equal(t, c.status, comparison.GetStatus())
			require.Equal(t, c.aheadBy, comparison.GetAheadBy())
			require.Equal(t, c.behindBy, comparison.GetBehindBy())
			require.Len(t, comparison.Commits, c.aheadBy)
			if c.aheadBy > 0 {
				require.Equal(t, c.newestCommitOfCompare, comparison.Commits[c.aheadBy-1].GetCommit().GetMessage())
			}
		})
	}
}

func TestCommitsAreGitObjectsAndPaginate(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	ctx, gh := b.ctx, b.gh

	first, resp, err := gh.Repositories.ListCommits(ctx, owner, repo, &github.CommitsListOptions{
		SHA: "develop", ListOptions: github.ListOptions{PerPage: 4},
	})
	require.NoError(t, err)
	require.Len(t, first, 4)
	require.Equal(t, 2, resp.NextPage)
	require.Contains(t, resp.Header.Get("Link"),
		"<"+b.srv.BaseURL()+"repos/acme/analytics/commits?page=2&per_page=4&sha=develop>; rel=\"next\"")
	second, resp, err := gh.Repositories.ListCommits(ctx, owner, repo, &github.CommitsListOptions{
		SHA: "develop", ListOptions: github.ListOptions{PerPage: 4, Page: resp.NextPage},
	})
	require.NoError(t, err)
	require.Len(t, second, 3, "initial commit, #1 and #2 below develop's four")
	require.Zero(t, resp.NextPage)
	require.Equal(t, "Initial commit", second[2].GetCommit().GetMessage())
	require.Equal(t, first[3].Parents[0].GetSHA(), second[0].GetSHA())

	gitCommit, _, err := gh.Git.GetCommit(ctx, owner, repo, first[0].GetSHA())
	require.NoError(t, err)
	require.Equal(t, "Dave", gitCommit.GetAuthor().GetName())
	require.Len(t, gitCommit.GetSHA(), 40)
	require.NotEqual(t, gitCommit.GetSHA(), gitCommit.GetTree().GetSHA())
}
