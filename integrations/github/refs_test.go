package github_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

func TestBranch(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})

	develop, err := b.client.Branch(b.ctx, "develop")
	require.NoError(t, err)
	require.Equal(t, github.Branch{Name: "develop", SHA: b.branchHead(t, "develop")}, develop)

	_, err = b.client.Branch(b.ctx, "release/v9.9.9")
	require.ErrorIs(t, err, github.ErrNotFound)
	_, retry := github.RetryAfter(err)
	require.False(t, retry, "a missing branch stays missing")
}

func TestCreateBranchIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	developHead, mainHead := b.branchHead(t, "develop"), b.branchHead(t, "main")

	first, err := b.client.CreateBranch(b.ctx, "release/v1.0.0", developHead)
	require.NoError(t, err)
	require.Equal(t, github.Branch{Name: "release/v1.0.0", SHA: developHead}, first)

	again, err := b.client.CreateBranch(b.ctx, "release/v1.0.0", mainHead)
	require.NoError(t, err)
	require.Equal(t, first, again, "the existing branch is returned where it is, not moved")
	require.Equal(t, developHead, b.branchHead(t, "release/v1.0.0"))
	require.Equal(t, 1, b.calls("POST /repos/{owner}/{repo}/git/refs"))

	_, err = b.client.CreateBranch(b.ctx, "release/v2.0.0", "0000000000000000000000000000000000000000")
	require.ErrorIs(t, err, github.ErrInvalid, "GitHub refuses a branch from a commit it does not have")
}

func TestCompare(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	b.cutRelease(t)
	mainHead := b.branchHead(t, "main")

	ahead, err := b.client.Compare(b.ctx, "main", "release/v1.0.0")
	require.NoError(t, err)
	require.Equal(t, "ahead", ahead.Status)
	require.Equal(t, 4, ahead.AheadBy)
	require.Zero(t, ahead.BehindBy)
	require.Equal(t, mainHead, ahead.MergeBaseSHA)
	var messages, authors []string
	for _, commit := range ahead.Commits {
		messages = append(messages, commit.Message)
		authors = append(authors, commit.Author)
		require.Contains(t, commit.URL, commit.SHA)
	}
	require.Equal(t, []string{
		"Add Slack notifications for failed imports (#4)", "Fix time zone in daily report (#5)",
		"Bump pgx to v5.12.0 (#6)", "Cache dashboard queries in Redis (#7)",
	}, messages, "each squash commit's first line, oldest first")
	require.Equal(t, []string{"alice", "bob", "carol", "dave"}, authors)

	cutFromDevelop, err := b.client.Compare(b.ctx, "develop", "release/v1.0.0")
	require.NoError(t, err)
	require.Equal(t, "identical", cutFromDevelop.Status)

	_, err = b.client.Compare(b.ctx, "main", "release/v9.9.9")
	require.ErrorIs(t, err, github.ErrNotFound)
}

func TestTag(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	seeded := b.srv.Tags()[0]

	tag, err := b.client.Tag(b.ctx, "v0.9.0")
	require.NoError(t, err)
	require.Equal(t, &github.Tag{Name: "v0.9.0", SHA: seeded.SHA, Annotated: true}, tag, "peeled to the commit")

	_, err = b.client.Tag(b.ctx, "v1.0.0")
	require.ErrorIs(t, err, github.ErrNotFound)
}

func TestCreateAnnotatedTagIsIdempotentAndNeverMovesATag(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	developHead, mainHead := b.branchHead(t, "develop"), b.branchHead(t, "main")

	for range 2 {
		tag, err := b.client.CreateAnnotatedTag(b.ctx, "v1.0.0", developHead, "Release v1.0.0")
		require.NoError(t, err)
		require.Equal(t, github.Tag{Name: "v1.0.0", SHA: developHead, Annotated: true}, tag)
	}
	require.Equal(t, 1, b.calls("POST /repos/{owner}/{repo}/git/tags"), "one tag object")
	tags := b.srv.Tags()
	require.Len(t, tags, 2)
	require.Equal(t, fakegithub.Tag{Name: "v1.0.0", SHA: developHead, Annotated: true, Message: "Release v1.0.0"}, tags[1])

	_, err := b.client.CreateAnnotatedTag(b.ctx, "v1.0.0", mainHead, "Release v1.0.0")
	require.ErrorIs(t, err, github.ErrTagConflict)
	var conflict *github.TagConflictError
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, github.TagConflictError{Tag: "v1.0.0", TaggedSHA: developHead, WantedSHA: mainHead}, *conflict)
	require.Equal(t, developHead, b.srv.Tags()[1].SHA, "the tag did not move")
}

func TestLatestReleaseTag(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	latest, err := b.client.LatestReleaseTag(b.ctx)
	require.NoError(t, err)
	require.Equal(t, "v0.9.0", latest)

	developHead := b.branchHead(t, "develop")
	for _, name := range []string{"v0.10.0", "v0.11.0-rc.1", "nightly", "v0.9.1", "v1"} {
		_, err := b.client.CreateAnnotatedTag(b.ctx, name, developHead, name)
		require.NoError(t, err)
	}
	latest, err = b.client.LatestReleaseTag(b.ctx)
	require.NoError(t, err)
	require.Equal(t, "v0.11.0-rc.1", latest, "by version precedence, not by name or date; other tags and the alias v1 ignored")
}
