package github_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

// BenchmarkReleaseAndDeployCalls walks /release v1.0.0 and /deploy v1.0.0 the way the runbook
// does, through this client alone, polling the workflow run every 30 s, and reports the GitHub
// API calls it took: requests/op sent, rate-limited/op those that counted against the rate
// limit (not answered 304). The deploy pipeline's own benchmark measures its real sequence.
func BenchmarkReleaseAndDeployCalls(b *testing.B) {
	for b.Loop() {
		tb := setup(b, fakegithub.Options{Workflow: workflow})
		walkReleaseAndDeploy(b, tb)
		stats := tb.client.Stats()
		b.ReportMetric(float64(stats.Requests), "requests/op")
		b.ReportMetric(float64(stats.Requests-stats.NotModified), "rate-limited/op")
	}
}

func walkReleaseAndDeploy(t testing.TB, b testBundle) {
	ctx, c := b.ctx, b.client
	must := func(err error) {
		t.Helper()
		require.NoError(t, err)
	}

	// /release v1.0.0
	latest, err := c.LatestReleaseTag(ctx)
	must(err)
	develop, err := c.Branch(ctx, "develop")
	must(err)
	branch, err := c.CreateBranch(ctx, "release/v1.0.0", develop.SHA)
	must(err)
	_, notes, err := c.GenerateNotes(ctx, "v1.0.0", branch.Name, latest)
	must(err)
	pr, err := c.OpenPullRequest(ctx, branch.Name, "main", "Release v1.0.0", notes)
	must(err)
	_, err = c.Compare(ctx, "main", branch.Name)
	must(err)

	// /deploy v1.0.0: the gates, then merge, tag, release and the workflow.
	must(b.srv.AddReview(pr.Number, "bob", "APPROVED"))
	head, err := c.Branch(ctx, branch.Name)
	must(err)
	_, err = c.Compare(ctx, "develop", branch.Name)
	must(err)
	_, err = c.Checks(ctx, head.SHA, nil)
	must(err)
	_, err = c.LastSuccessfulDeployment(ctx, head.SHA, "development")
	must(err)
	_, err = c.Reviews(ctx, pr.Number)
	must(err)
	mergeSHA, err := c.MergePullRequest(ctx, pr.Number, head.SHA, "merge", "Release v1.0.0")
	must(err)
	taggedAt := b.clock.Now()
	_, err = c.CreateAnnotatedTag(ctx, "v1.0.0", mergeSHA, "Release v1.0.0")
	must(err)
	name, notes, err := c.GenerateNotes(ctx, "v1.0.0", mergeSHA, "")
	must(err)
	_, err = c.CreateRelease(ctx, "v1.0.0", name, notes)
	must(err)
	deployment, err := c.CreateDeployment(ctx, "v1.0.0", "production", "v1.0.0 by opsbot", "deploy-1")
	must(err)
	run, err := c.FindWorkflowRun(ctx, "deploy.yml", github.WorkflowRunQuery{Event: "push", HeadSHA: mergeSHA, CreatedAfter: taggedAt})
	must(err)
	require.NotNil(t, run)
	must(c.SetDeploymentStatus(ctx, deployment.ID, "in_progress", run.URL, "production workflow running"))
	for {
		polled, err := c.WorkflowRun(ctx, run.ID)
		must(err)
		_, err = c.WorkflowJobs(ctx, run.ID)
		must(err)
		if polled.Status == "completed" {
			break
		}
		b.clock.Advance(30 * time.Second)
	}
	must(c.SetDeploymentStatus(ctx, deployment.ID, "success", run.URL, "deployed"))
}

func TestReleaseAndDeployThroughTheClient(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{Workflow: workflow})
	walkReleaseAndDeploy(t, b)

	require.Len(t, b.srv.Merges(), 1)
	require.Len(t, b.srv.Releases(), 2, "v0.9.0 and v1.0.0")
	deployments := b.srv.Deployments()
	statuses := deployments[len(deployments)-1].Statuses
	require.Equal(t, "success", statuses[len(statuses)-1].State)
	stats := b.client.Stats()
	require.Equal(t, b.srv.Calls().Total, stats.Requests)
	require.Positive(t, stats.NotModified, "polling an unchanged run or job list costs no rate limit")
	t.Logf("GitHub API calls: %d sent, %d counted against the rate limit; by route: %v",
		stats.Requests, stats.Requests-stats.NotModified, b.srv.Calls().ByRoute)
}
