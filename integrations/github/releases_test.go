package github_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

func TestGenerateNotes(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	b.cutRelease(t)

	name, body, err := b.client.GenerateNotes(b.ctx, "v1.0.0", "release/v1.0.0", "")
	require.NoError(t, err)
	require.Equal(t, "v1.0.0", name)
	require.Contains(t, body, "## What's Changed")
	require.Contains(t, body, "* Cache dashboard queries in Redis by @dave in https://github.com/acme/analytics/pull/7")
	require.Contains(t, body, "compare/v0.9.0...v1.0.0", "since the latest release")
	require.NotContains(t, body, "Add daily report job", "released in v0.9.0 already")

	_, _, err = b.client.GenerateNotes(b.ctx, "v1.0.0", "release/v1.0.0", "v0.0.1")
	require.ErrorIs(t, err, github.ErrInvalid, "an unknown previous tag")
}

func TestCreateReleaseIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	_, err := b.client.Release(b.ctx, "v1.0.0")
	require.ErrorIs(t, err, github.ErrNotFound)
	_, err = b.client.CreateAnnotatedTag(b.ctx, "v1.0.0", b.branchHead(t, "develop"), "Release v1.0.0")
	require.NoError(t, err)

	first, err := b.client.CreateRelease(b.ctx, "v1.0.0", "v1.0.0", "## What's Changed")
	require.NoError(t, err)
	again, err := b.client.CreateRelease(b.ctx, "v1.0.0", "v1.0.0 (again)", "other notes")
	require.NoError(t, err)
	require.Equal(t, first, again, "the existing release, unchanged")
	require.Equal(t, "https://github.com/acme/analytics/releases/tag/v1.0.0", first.URL)
	require.Equal(t, github.Release{ID: first.ID, URL: first.URL, Name: "v1.0.0", Body: "## What's Changed"}, first)

	releases := b.srv.Releases()
	require.Len(t, releases, 2, "v0.9.0 and one v1.0.0")
	require.Equal(t, "v1.0.0", releases[1].TagName)

	byTag, err := b.client.Release(b.ctx, "v1.0.0")
	require.NoError(t, err)
	require.Equal(t, &first, byTag)
}
