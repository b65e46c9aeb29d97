package fakegithub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

const owner, repo = "acme", "analytics"

// testBundle is a fake GitHub with the real go-github client pointed at it.
type testBundle struct {
	srv   *fakegithub.Server
	gh    *github.Client
	clock *clock.Offset
	ctx   context.Context
}

// specsDir returns the folder of API descriptions, or "" when it is absent: the fake then runs
// without checking requests, and tests that are about that check skip.
func specsDir(t *testing.T) string {
	t.Helper()
	dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	if err != nil {
		t.Logf("requests and responses are not checked against GitHub's API description: %v", err)
		return ""
	}
	return dir
}

// setup starts a fake on an Offset clock. When GitHub's API description is available, the fake
// checks every request against it and the client checks every response, so each test also
// proves the fake answers as GitHub documents.
func setup(t *testing.T, opts fakegithub.Options) testBundle {
	t.Helper()
	b := testBundle{clock: clock.NewOffset(), ctx: context.Background()}
	opts.Clock = b.clock
	opts.SpecsDir = specsDir(t)
	srv, err := fakegithub.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	b.srv = srv

	transport := http.DefaultTransport
	if opts.SpecsDir != "" {
		validator, err := apispec.GitHub(opts.SpecsDir)
		require.NoError(t, err)
		transport = responseCheck{validator: validator, next: transport}
	}
	gh, err := github.NewClient(&http.Client{Transport: transport}).
		WithAuthToken(fakegithub.DefaultToken).
		WithEnterpriseURLs(srv.BaseURL(), srv.BaseURL())
	require.NoError(t, err)
	b.gh = gh
	return b
}

// responseCheck fails any call whose response GitHub's description says GitHub would not give.
type responseCheck struct {
	validator *apispec.Validator
	next      http.RoundTripper
}

func (c responseCheck) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	asGitHubSees := r.Clone(r.Context())
	asGitHubSees.URL.Path = strings.TrimPrefix(r.URL.Path, "/api/v3")
	asGitHubSees.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, "/api/v3")
	if err := c.validator.ValidateResponse(asGitHubSees, resp.StatusCode, resp.Header, body); err != nil {
		return nil, fmt.Errorf("the fake answered unlike GitHub: %w", err)
	}
	return resp, nil
}

// requireStatus asserts that err is GitHub's error answer with the given status and message.
func requireStatus(t *testing.T, err error, status int, message string) {
	t.Helper()
	var errResp *github.ErrorResponse
	require.True(t, errors.As(err, &errResp), "want a GitHub error %d, got %v", status, err)
	require.Equal(t, status, errResp.Response.StatusCode, "error: %v", err)
	require.Contains(t, errResp.Message, message)
}
