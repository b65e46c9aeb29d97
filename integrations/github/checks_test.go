package github_test

import (
	"testing"
	"time"

	gogithub "github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

func TestChecks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		arrange  func(t *testing.T, b testBundle, sha string)
		required []string
		want     github.CheckSummary
	}{
		{
			name: "green: check runs build and test, status codecov/project",
			want: github.CheckSummary{Total: 3, Passed: 3},
		},
		{
			name: "a check run in progress",
			arrange: func(t *testing.T, b testBundle, _ string) {
				require.NoError(t, b.srv.Fail(fakegithub.FaultCIPending, 2))
			},
			want: github.CheckSummary{Total: 3, Passed: 1, Pending: 2, PendingNames: []string{"build", "test"}},
		},
		{
			name: "a failing commit status",
			arrange: func(t *testing.T, b testBundle, sha string) {
				b.setStatus(t, sha, "codecov/project", "failure", "https://codecov.example.com/1")
			},
			want: github.CheckSummary{Total: 3, Passed: 2, Failed: 1, Failing: []github.Check{
				{Name: "codecov/project", URL: "https://codecov.example.com/1", Conclusion: "failure"},
			}},
		},
		{
			name: "a pending commit status",
			arrange: func(t *testing.T, b testBundle, sha string) {
				b.setStatus(t, sha, "security/scan", "pending", "")
			},
			want: github.CheckSummary{Total: 4, Passed: 3, Pending: 1, PendingNames: []string{"security/scan"}},
		},
		{
			name: "a check run re-run to success passes",
			arrange: func(t *testing.T, b testBundle, sha string) {
				require.NoError(t, b.srv.SetCheck(sha, "test", "failure"))
				b.clock.Advance(time.Minute)
				require.NoError(t, b.srv.SetCheck(sha, "test", "success"))
			},
			want: github.CheckSummary{Total: 3, Passed: 3},
		},
		{
			name: "a later commit status of a check run's name wins",
			arrange: func(t *testing.T, b testBundle, sha string) {
				b.clock.Advance(time.Minute)
				b.setStatus(t, sha, "build", "error", "https://ci.example.com/build/2")
			},
			want: github.CheckSummary{Total: 3, Passed: 2, Failed: 1, Failing: []github.Check{
				{Name: "build", URL: "https://ci.example.com/build/2", Conclusion: "error"},
			}},
		},
		{
			name: "only the required contexts count",
			arrange: func(t *testing.T, b testBundle, _ string) {
				require.NoError(t, b.srv.Fail(fakegithub.FaultCIFail, 1)) // build
			},
			required: []string{"test", "codecov/project"},
			want:     github.CheckSummary{Total: 2, Passed: 2},
		},
		{
			name:     "a required context that never reported is pending",
			required: []string{"test", "e2e"},
			want:     github.CheckSummary{Total: 2, Passed: 1, Pending: 1, PendingNames: []string{"e2e"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakegithub.Options{})
			b.cutRelease(t)
			sha := b.branchHead(t, "release/v1.0.0")
			if c.arrange != nil {
				c.arrange(t, b, sha)
			}
			got, err := b.client.Checks(b.ctx, sha, c.required)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestChecksLinkAFailingCheckRun(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	b.cutRelease(t)
	sha := b.branchHead(t, "release/v1.0.0")
	require.NoError(t, b.srv.Fail(fakegithub.FaultCIFail, 1))

	got, err := b.client.Checks(b.ctx, sha, nil)
	require.NoError(t, err)
	runs, _, err := b.world.Checks.ListCheckRunsForRef(b.ctx, owner, repo, sha,
		&gogithub.ListCheckRunsOptions{CheckName: gogithub.String("build")})
	require.NoError(t, err)
	require.Equal(t, github.CheckSummary{Total: 3, Passed: 2, Failed: 1, Failing: []github.Check{
		{Name: "build", URL: runs.CheckRuns[0].GetHTMLURL(), Conclusion: "failure"},
	}}, got)
	require.NotEmpty(t, got.Failing[0].URL)
}

// setStatus reports a commit status as a CI service would.
func (b testBundle) setStatus(t *testing.T, sha, context, state, targetURL string) {
	t.Helper()
	status := &gogithub.RepoStatus{Context: gogithub.String(context), State: gogithub.String(state)}
	if targetURL != "" {
		status.TargetURL = gogithub.String(targetURL)
	}
	_, _, err := b.world.Repositories.CreateStatus(b.ctx, owner, repo, sha, status)
	require.NoError(t, err)
}
