package github_test

import (
	"context"
	"net/http"
	"os"
	"testing"

	gogithub "github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

const owner, repo = "acme", "analytics"

// testBundle is the client under test against a fake GitHub, plus a plain go-github client that
// plays the people around the bot where the fake has no control for it.
type testBundle struct {
	srv    *fakegithub.Server
	client *github.Client
	world  *gogithub.Client
	clock  *clock.Offset
	ctx    context.Context
}

// setup starts a fake GitHub on an Offset clock. When GitHub's API description is available
// (OPSBOT_SPECS_DIR, or ../shared/specs beside the checkout), the fake refuses every request
// GitHub would refuse, so each test also proves the client sends what GitHub accepts.
func setup(t testing.TB, opts fakegithub.Options) testBundle {
	t.Helper()
	return setupWithHTTP(t, opts, nil)
}

func setupWithHTTP(t testing.TB, opts fakegithub.Options, httpClient *http.Client) testBundle {
	t.Helper()
	b := testBundle{clock: clock.NewOffset(), ctx: context.Background()}
	opts.Clock = b.clock
	if dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR")); err == nil {
		opts.SpecsDir = dir
	} else {
		t.Logf("requests are not checked against GitHub's API description: %v", err)
	}
	srv, err := fakegithub.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	b.srv = srv

	b.client, err = github.New(github.Options{
		BaseURL: srv.BaseURL(), Token: config.NewSecret(fakegithub.DefaultToken), Owner: owner, Repo: repo,
		HTTPClient: httpClient, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
	})
	require.NoError(t, err)
	b.world, err = gogithub.NewClient(nil).WithAuthToken(fakegithub.DefaultToken).
		WithEnterpriseURLs(srv.BaseURL(), srv.BaseURL())
	require.NoError(t, err)
	return b
}

// branchHead returns where the fake says branch points.
func (b testBundle) branchHead(t testing.TB, branch string) string {
	t.Helper()
	sha, ok := b.srv.Branch(branch)
	require.True(t, ok, "branch %s exists", branch)
	return sha
}

// cutRelease does what /release v1.0.0 does: release/v1.0.0 from develop's head and a pull
// request from it into main.
func (b testBundle) cutRelease(t testing.TB) github.PullRequest {
	t.Helper()
	_, err := b.client.CreateBranch(b.ctx, "release/v1.0.0", b.branchHead(t, "develop"))
	require.NoError(t, err)
	pr, err := b.client.OpenPullRequest(b.ctx, "release/v1.0.0", "main", "Release v1.0.0", "notes")
	require.NoError(t, err)
	return pr
}

// calls is how many requests the fake received for route, e.g. "POST /repos/{owner}/{repo}/git/refs".
func (b testBundle) calls(route string) int { return b.srv.Calls().ByRoute[route] }
