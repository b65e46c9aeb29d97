package github_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

func TestOpenPullRequestIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	none, err := b.client.FindPullRequest(b.ctx, "release/v1.0.0", "main")
	require.NoError(t, err)
	require.Nil(t, none)

	first := b.cutRelease(t)
	again, err := b.client.OpenPullRequest(b.ctx, "release/v1.0.0", "main", "Another title", "other notes")
	require.NoError(t, err)
	require.Equal(t, first, again, "the open pull request, unchanged")
	require.Equal(t, github.PullRequest{
		Number: 9, URL: "https://github.com/acme/analytics/pull/9", State: "open",
		HeadSHA: b.branchHead(t, "develop"), Title: "Release v1.0.0", Body: "notes",
	}, first)
	require.Equal(t, 1, b.calls("POST /repos/{owner}/{repo}/pulls"))

	found, err := b.client.FindPullRequest(b.ctx, "release/v1.0.0", "main")
	require.NoError(t, err)
	require.Equal(t, &first, found)
	byNumber, err := b.client.PullRequest(b.ctx, first.Number)
	require.NoError(t, err)
	require.Equal(t, first, byNumber)

	_, err = b.client.PullRequest(b.ctx, 99)
	require.ErrorIs(t, err, github.ErrNotFound)
}

func TestFindPullRequestReturnsAClosedOneWhenNoneIsOpen(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	pr := b.cutRelease(t)
	_, err := b.client.MergePullRequest(b.ctx, pr.Number, pr.HeadSHA, "merge", "")
	require.NoError(t, err)

	found, err := b.client.FindPullRequest(b.ctx, "release/v1.0.0", "main")
	require.NoError(t, err)
	require.NotNil(t, found)
	require.Equal(t, pr.Number, found.Number)
	require.Equal(t, "closed", found.State)
	require.True(t, found.Merged)
}

func TestReviews(t *testing.T) {
	t.Parallel()
	type review struct{ login, state string }
	cases := []struct {
		name    string
		reviews []review
		want    github.ReviewSummary
	}{
		{"none", nil, github.ReviewSummary{}},
		{"approved", []review{{"bob", "APPROVED"}}, github.ReviewSummary{ApprovedBy: []string{"bob"}}},
		{"a later approval clears a change request",
			[]review{{"bob", "CHANGES_REQUESTED"}, {"bob", "APPROVED"}},
			github.ReviewSummary{ApprovedBy: []string{"bob"}}},
		{"a later change request withdraws an approval",
			[]review{{"bob", "APPROVED"}, {"bob", "CHANGES_REQUESTED"}},
			github.ReviewSummary{ChangesRequestedBy: []string{"bob"}}},
		{"a comment changes nothing",
			[]review{{"carol", "CHANGES_REQUESTED"}, {"carol", "COMMENTED"}, {"bob", "APPROVED"}, {"bob", "COMMENTED"}},
			github.ReviewSummary{ApprovedBy: []string{"bob"}, ChangesRequestedBy: []string{"carol"}}},
		{"only comments", []review{{"dave", "COMMENTED"}}, github.ReviewSummary{}},
		{"several reviewers, sorted",
			[]review{{"dave", "APPROVED"}, {"bob", "APPROVED"}, {"carol", "CHANGES_REQUESTED"}},
			github.ReviewSummary{ApprovedBy: []string{"bob", "dave"}, ChangesRequestedBy: []string{"carol"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakegithub.Options{})
			pr := b.cutRelease(t)
			for _, r := range c.reviews {
				require.NoError(t, b.srv.AddReview(pr.Number, r.login, r.state))
			}
			got, err := b.client.Reviews(b.ctx, pr.Number)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestMergePullRequestIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	pr := b.cutRelease(t)

	first, err := b.client.MergePullRequest(b.ctx, pr.Number, pr.HeadSHA, "merge", "Release v1.0.0")
	require.NoError(t, err)
	again, err := b.client.MergePullRequest(b.ctx, pr.Number, pr.HeadSHA, "merge", "Release v1.0.0")
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Equal(t, []fakegithub.Merge{{PullRequest: pr.Number, Method: "merge", Base: "main", SHA: first,
		At: b.srv.Merges()[0].At}}, b.srv.Merges(), "merged once")
	require.Equal(t, first, b.branchHead(t, "main"))
}

func TestMergePullRequestRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// merge returns the pull request and head to merge at, after arranging the world.
		merge func(t *testing.T, b testBundle) (number int, head string)
		want  error
	}{
		{"head moved after approval", func(t *testing.T, b testBundle) (int, string) {
			pr := b.cutRelease(t)
			_, err := b.srv.PushCommit("release/v1.0.0", "Last-minute fix")
			require.NoError(t, err)
			return pr.Number, pr.HeadSHA
		}, github.ErrHeadMoved},
		{"conflicting pull request", func(t *testing.T, b testBundle) (int, string) {
			pr, err := b.client.PullRequest(b.ctx, 8)
			require.NoError(t, err)
			return pr.Number, pr.HeadSHA
		}, github.ErrNotMergeable},
		{"merged already, at another head", func(t *testing.T, b testBundle) (int, string) {
			pr := b.cutRelease(t)
			_, err := b.client.MergePullRequest(b.ctx, pr.Number, pr.HeadSHA, "merge", "")
			require.NoError(t, err)
			return pr.Number, b.branchHead(t, "main")
		}, github.ErrHeadMoved},
		{"no such pull request", func(t *testing.T, b testBundle) (int, string) {
			return 99, b.branchHead(t, "develop")
		}, github.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakegithub.Options{})
			number, head := c.merge(t, b)
			merges := len(b.srv.Merges())
			_, err := b.client.MergePullRequest(b.ctx, number, head, "merge", "")
			require.ErrorIs(t, err, c.want)
			_, retry := github.RetryAfter(err)
			require.False(t, retry)
			require.Len(t, b.srv.Merges(), merges, "nothing merged")
		})
	}
}
