package fakegithub_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

func TestRequestFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fault      fakegithub.Fault
		status     int
		retryAfter string
		asClient   func(t *testing.T, err error) // how go-github reports the first failure
	}{
		{fakegithub.FaultServerError, http.StatusInternalServerError, "", func(t *testing.T, err error) {
			requireStatus(t, err, http.StatusInternalServerError, "Server Error")
		}},
		{fakegithub.FaultTooManyRequests, http.StatusTooManyRequests, "7", func(t *testing.T, err error) {
			requireStatus(t, err, http.StatusTooManyRequests, "secondary rate limit")
		}},
		{fakegithub.FaultAbuseForbidden, http.StatusForbidden, "7", func(t *testing.T, err error) {
			var abuse *github.AbuseRateLimitError
			require.ErrorAs(t, err, &abuse)
			require.Equal(t, 7*time.Second, abuse.GetRetryAfter())
		}},
	}
	for _, c := range cases {
		t.Run(string(c.fault), func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakegithub.Options{SecondaryRetryAfter: 7 * time.Second})
			require.NoError(t, b.srv.Fail(c.fault, 2))
			_, _, err := b.gh.Git.GetRef(b.ctx, owner, repo, "heads/main")
			c.asClient(t, err)

			// go-github now holds back by itself after a secondary rate limit, so the
			// second faulted request and the one after it go around it.
			second := rawGet(t, b, "repos/acme/analytics/git/ref/heads/main", "")
			require.Equal(t, c.status, second.StatusCode)
			require.Equal(t, c.retryAfter, second.Header.Get("Retry-After"))
			require.Equal(t, http.StatusOK, rawGet(t, b, "repos/acme/analytics/git/ref/heads/main", "").StatusCode,
				"the fault covers only the next 2 requests")
		})
	}
}

// rawGet sends an authenticated GET around go-github's own checks, optionally with
// If-None-Match.
func rawGet(t *testing.T, b testBundle, path, etag string) *http.Response {
	t.Helper()
	req, err := b.gh.NewRequest(http.MethodGet, path, nil)
	require.NoError(t, err)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := b.gh.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp
}

func TestFailRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	require.ErrorContains(t, b.srv.Fail("github 418", 1), `"ci pending"`, "the error lists the faults there are")
	require.Error(t, b.srv.Fail(fakegithub.FaultServerError, 0))
}

func TestLatencyDelaysEveryCall(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	b.srv.Latency(time.Hour)
	ctx, cancel := context.WithTimeout(b.ctx, 50*time.Millisecond)
	defer cancel()
	_, _, err := b.gh.Git.GetRef(ctx, owner, repo, "heads/main")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	b.srv.Latency(0)
	_, _, err = b.gh.Git.GetRef(b.ctx, owner, repo, "heads/main")
	require.NoError(t, err)
}

func TestCIFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fault         fakegithub.Fault
		want          map[string]string // check name → status/conclusion
		wantDeployErr bool
	}{
		{fakegithub.FaultCIFail, map[string]string{"build": "completed/failure", "test": "completed/success"}, true},
		{fakegithub.FaultCIPending, map[string]string{"build": "in_progress/", "test": "completed/success"}, true},
	}
	for _, c := range cases {
		t.Run(string(c.fault), func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakegithub.Options{})
			pr := cutRelease(t, b)
			require.NoError(t, b.srv.Fail(c.fault, 1))

			for _, ref := range []string{"develop", "release/v1.0.0"} {
				checks, _, err := b.gh.Checks.ListCheckRunsForRef(b.ctx, owner, repo, ref, nil)
				require.NoError(t, err)
				got := map[string]string{}
				for _, run := range checks.CheckRuns {
					got[run.GetName()] = run.GetStatus() + "/" + run.GetConclusion()
				}
				require.Equal(t, c.want, got, ref)
			}
			_, _, err := b.gh.Repositories.CreateDeployment(b.ctx, owner, repo, &github.DeploymentRequest{
				Ref: github.String("release/v1.0.0"), Environment: github.String("staging"),
			})
			requireStatus(t, err, http.StatusConflict, "Commit status checks failed for release/v1.0.0")

			fixed, err := b.srv.PushCommit("release/v1.0.0", "Fix flaky test")
			require.NoError(t, err)
			checks, _, err := b.gh.Checks.ListCheckRunsForRef(b.ctx, owner, repo, fixed, nil)
			require.NoError(t, err)
			for _, run := range checks.CheckRuns {
				require.Equal(t, "success", run.GetConclusion(), "a new push gets green CI")
			}
			got, _, err := b.gh.PullRequests.Get(b.ctx, owner, repo, pr.GetNumber())
			require.NoError(t, err)
			require.Equal(t, fixed, got.GetHead().GetSHA())
		})
	}
}

func TestSoakYoung(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	require.NoError(t, b.srv.Fail(fakegithub.FaultSoakYoung, 1))
	deployments, _, err := b.gh.Repositories.ListDeployments(b.ctx, owner, repo,
		&github.DeploymentsListOptions{Environment: "development"})
	require.NoError(t, err)
	require.WithinDuration(t, b.clock.Now().Add(-time.Hour), deployments[0].GetCreatedAt().Time, time.Second)

	b.clock.Advance(24 * time.Hour)
	all := b.srv.Deployments()
	require.Less(t, b.clock.Now().Sub(all[len(all)-1].CreatedAt), 26*time.Hour, "a fault moves the deployment, not the clock")
}

func TestSetCheck(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	require.NoError(t, b.srv.SetCheck("develop", "test", "failure"))
	require.NoError(t, b.srv.SetCheck("develop", "e2e", "queued"))
	require.Error(t, b.srv.SetCheck("develop", "e2e", "done"))
	require.Error(t, b.srv.SetCheck("no-such-branch", "e2e", "success"))

	checks, _, err := b.gh.Checks.ListCheckRunsForRef(b.ctx, owner, repo, "develop", nil)
	require.NoError(t, err)
	got := map[string]string{}
	for _, run := range checks.CheckRuns {
		got[run.GetName()] = run.GetStatus() + "/" + run.GetConclusion()
	}
	require.Equal(t, map[string]string{"build": "completed/success", "test": "completed/failure", "e2e": "queued/"}, got)
	failing, _, err := b.gh.Checks.ListCheckRunsForRef(b.ctx, owner, repo, "develop",
		&github.ListCheckRunsOptions{CheckName: github.String("test")})
	require.NoError(t, err)
	require.Equal(t, 1, failing.GetTotal())
}

func TestDeploymentsAndStatuses(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	ctx, gh := b.ctx, b.gh
	developHead, _ := b.srv.Branch("develop")

	deployment, _, err := gh.Repositories.CreateDeployment(ctx, owner, repo, &github.DeploymentRequest{
		Ref: github.String("develop"), Environment: github.String("staging"), Description: github.String("v1.0.0-rc.1"),
		Payload: map[string]any{"version": "v1.0.0-rc.1"},
	})
	require.NoError(t, err)
	require.Equal(t, developHead, deployment.GetSHA())
	require.WithinDuration(t, b.clock.Now(), deployment.GetCreatedAt().Time, time.Second)

	b.clock.Advance(time.Minute)
	status, _, err := gh.Repositories.CreateDeploymentStatus(ctx, owner, repo, deployment.GetID(), &github.DeploymentStatusRequest{
		State: github.String("success"), LogURL: github.String("https://ci.example.com/1"),
	})
	require.NoError(t, err)
	require.Equal(t, "staging", status.GetEnvironment())
	statuses, _, err := gh.Repositories.ListDeploymentStatuses(ctx, owner, repo, deployment.GetID(), nil)
	require.NoError(t, err)
	require.Len(t, statuses, 1)

	commitStatus, _, err := gh.Repositories.CreateStatus(ctx, owner, repo, developHead, &github.RepoStatus{
		State: github.String("pending"), Context: github.String("opsbot/soak"), Description: github.String("5 h to go"),
	})
	require.NoError(t, err)
	require.Equal(t, "opsbot/soak", commitStatus.GetContext())
	combined, _, err := gh.Repositories.GetCombinedStatus(ctx, owner, repo, developHead, nil)
	require.NoError(t, err)
	require.Equal(t, "pending", combined.GetState())

	_, _, err = gh.Repositories.CreateDeployment(ctx, owner, repo, &github.DeploymentRequest{Ref: github.String("develop")})
	requireStatus(t, err, http.StatusConflict, "Commit status checks failed for develop")
	_, _, err = gh.Repositories.CreateDeployment(ctx, owner, repo, &github.DeploymentRequest{
		Ref: github.String("develop"), RequiredContexts: &[]string{},
	})
	require.NoError(t, err, "no required contexts: deploy whatever the checks say")

	_, _, err = gh.Repositories.GetDeployment(ctx, owner, repo, 1)
	requireStatus(t, err, http.StatusNotFound, "Not Found")
}

func TestETagAndRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{RateLimit: 4})
	get := func(etag string) *http.Response { return rawGet(t, b, "repos/acme/analytics/git/ref/heads/main", etag) }

	first := get("")
	require.Equal(t, http.StatusOK, first.StatusCode)
	etag := first.Header.Get("ETag")
	require.NotEmpty(t, etag)
	require.Equal(t, "3", first.Header.Get("X-RateLimit-Remaining"))

	cached := get(etag)
	require.Equal(t, http.StatusNotModified, cached.StatusCode)
	require.Equal(t, "3", cached.Header.Get("X-RateLimit-Remaining"), "a 304 is free")

	_, err := b.srv.PushCommit("main", "Hotfix")
	require.NoError(t, err)
	changed := get(etag)
	require.Equal(t, http.StatusOK, changed.StatusCode)
	require.NotEqual(t, etag, changed.Header.Get("ETag"))

	calls := b.srv.Calls()
	require.Equal(t, 3, calls.Total)
	require.Equal(t, 1, calls.NotModified)
	require.Equal(t, 3, calls.ByRoute["GET /repos/{owner}/{repo}/git/ref/{ref...}"])

	for range 2 {
		_, _, err = b.gh.Git.GetRef(b.ctx, owner, repo, "heads/main")
		require.NoError(t, err)
	}
	_, _, err = b.gh.Git.GetRef(b.ctx, owner, repo, "heads/main")
	var limited *github.RateLimitError
	require.ErrorAs(t, err, &limited)
	require.Equal(t, 4, limited.Rate.Limit)
	require.Zero(t, limited.Rate.Remaining)
}

func TestAuthenticationAndPrefix(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	cases := []struct {
		name   string
		url    string
		header string
		want   int
	}{
		{"no token", b.srv.BaseURL() + "repos/acme/analytics", "", http.StatusUnauthorized},
		{"wrong token", b.srv.BaseURL() + "repos/acme/analytics", "Bearer ghp_other", http.StatusUnauthorized},
		{"token scheme", b.srv.BaseURL() + "repos/acme/analytics", "token " + fakegithub.DefaultToken, http.StatusOK},
		{"absolute path without /api/v3", strings.TrimSuffix(b.srv.BaseURL(), "api/v3/") + "repos/acme/analytics",
			"Bearer " + fakegithub.DefaultToken, http.StatusNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, c.url, nil)
			require.NoError(t, err)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, c.want, resp.StatusCode)
		})
	}
}

func TestRequestsGitHubWouldRefuse(t *testing.T) {
	t.Parallel()
	if specsDir(t) == "" {
		t.Skip("skipping: GitHub's API description is not available (set OPSBOT_SPECS_DIR)")
	}
	b := setup(t, fakegithub.Options{})

	req, err := b.gh.NewRequest(http.MethodPost, "repos/acme/analytics/git/refs",
		map[string]any{"ref": "refs/heads/release/v1.0.0", "sha": 42})
	require.NoError(t, err)
	_, err = b.gh.Do(b.ctx, req, nil)
	requireStatus(t, err, http.StatusUnprocessableEntity, "sha")
	_, exists := b.srv.Branch("release/v1.0.0")
	require.False(t, exists, "a refused request changes nothing")

	_, _, err = b.gh.PullRequests.List(b.ctx, owner, repo, &github.PullRequestListOptions{State: "merged"})
	requireStatus(t, err, http.StatusUnprocessableEntity, "state")

	raw, err := http.NewRequest(http.MethodPost, b.srv.BaseURL()+"repos/acme/analytics/git/refs", bytes.NewBufferString(`{"ref":`))
	require.NoError(t, err)
	raw.Header.Set("Authorization", "Bearer "+fakegithub.DefaultToken)
	raw.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(raw)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestNewRefusesABadRepository(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"analytics", "acme/", "/analytics", "acme/analytics/extra"} {
		_, err := fakegithub.New(fakegithub.Options{Repo: name})
		require.Error(t, err, name)
	}
}
