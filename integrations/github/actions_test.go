package github_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

// The fake's deploy workflow: queued 10 s, then build and deploy, 2 min each.
var workflow = fakegithub.Workflow{QueueTime: 10 * time.Second, RunTime: 4 * time.Minute}

func TestFindWorkflowRunAfterTagPush(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{Workflow: workflow})
	pr := b.cutRelease(t)
	mergeSHA, err := b.client.MergePullRequest(b.ctx, pr.Number, pr.HeadSHA, "merge", "")
	require.NoError(t, err)
	query := github.WorkflowRunQuery{Event: "push", HeadSHA: mergeSHA, Branch: "v1.0.0", CreatedAfter: b.clock.Now()}

	run, err := b.client.FindWorkflowRun(b.ctx, "deploy.yml", query)
	require.NoError(t, err)
	require.Nil(t, run, "not tagged yet")

	b.clock.Advance(time.Second)
	_, err = b.client.CreateAnnotatedTag(b.ctx, "v1.0.0", mergeSHA, "Release v1.0.0")
	require.NoError(t, err)
	run, err = b.client.FindWorkflowRun(b.ctx, "deploy.yml", query)
	require.NoError(t, err)
	require.NotNil(t, run)

	pushed := b.srv.WorkflowRuns()[1]
	require.Equal(t, pushed.ID, run.ID)
	require.Equal(t, fmt.Sprintf("https://github.com/acme/analytics/actions/runs/%d", pushed.ID), run.URL)
	require.Equal(t, "Deploy v1.0.0", run.DisplayTitle)
	require.Equal(t, "queued", run.Status)
	require.Empty(t, run.Conclusion)
	require.Equal(t, mergeSHA, run.HeadSHA)
	require.Equal(t, "push", run.Event)
	require.WithinDuration(t, pushed.CreatedAt, run.CreatedAt, time.Second)
	require.WithinDuration(t, pushed.UpdatedAt, run.UpdatedAt, time.Second)
}

func TestFindWorkflowRunAfterDispatch(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{Workflow: workflow})
	mainHead := b.branchHead(t, "main") // v0.9.0's commit, whose tag push started a run 8 days ago
	dispatchedAt := b.clock.Now()

	none, err := b.client.FindWorkflowRun(b.ctx, "deploy.yml", github.WorkflowRunQuery{
		Event: "workflow_dispatch", HeadSHA: mainHead, CreatedAfter: dispatchedAt,
	})
	require.NoError(t, err)
	require.Nil(t, none, "the seeded push run is older and not a dispatch")

	for _, tag := range []string{"v0.8.0", "v0.9.0"} { // two rollbacks dispatched on the same commit
		require.NoError(t, b.client.DispatchWorkflow(b.ctx, "deploy.yml", "main", map[string]any{"tag": tag}))
		b.clock.Advance(time.Second)
	}
	runs := b.srv.WorkflowRuns()
	cases := []struct {
		name  string
		query github.WorkflowRunQuery
		want  int64
	}{
		{"the earliest matching run", github.WorkflowRunQuery{
			Event: "workflow_dispatch", HeadSHA: mainHead, Branch: "main", CreatedAfter: dispatchedAt,
		}, runs[1].ID},
		{"told apart by title", github.WorkflowRunQuery{
			Event: "workflow_dispatch", HeadSHA: mainHead, DisplayTitle: "Deploy v0.9.0", CreatedAfter: dispatchedAt,
		}, runs[2].ID},
		{"created after", github.WorkflowRunQuery{
			Event: "workflow_dispatch", CreatedAfter: dispatchedAt.Add(time.Second),
		}, runs[2].ID},
		{"by event alone, the seeded push", github.WorkflowRunQuery{Event: "push"}, runs[0].ID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run, err := b.client.FindWorkflowRun(b.ctx, "deploy.yml", c.query)
			require.NoError(t, err)
			require.NotNil(t, run)
			require.Equal(t, c.want, run.ID)
		})
	}

	err = b.client.DispatchWorkflow(b.ctx, "deploy.yml", "main", map[string]any{"version": "v0.9.0"})
	require.ErrorIs(t, err, github.ErrInvalid, "the workflow's input is called tag")
	err = b.client.DispatchWorkflow(b.ctx, "release.yml", "main", map[string]any{"tag": "v0.9.0"})
	require.ErrorIs(t, err, github.ErrNotFound)
}

func TestWorkflowJobs(t *testing.T) {
	t.Parallel()
	type state struct{ status, conclusion string }
	cases := []struct {
		name       string
		fault      bool
		wantRun    state
		wantDeploy state
		wantSteps  map[string]state // the deploy job's
	}{
		{"success", false, state{"completed", "success"}, state{"completed", "success"}, map[string]state{
			"Deploy": {"completed", "success"}, "Smoke test": {"completed", "success"},
		}},
		{"workflow fail", true, state{"completed", "failure"}, state{"completed", "failure"}, map[string]state{
			"Deploy": {"completed", "failure"}, "Smoke test": {"completed", "skipped"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakegithub.Options{Workflow: workflow})
			if c.fault {
				require.NoError(t, b.srv.Fail(fakegithub.FaultWorkflowFail, 1))
			}
			run := b.dispatch(t, "v0.9.0")

			b.clock.Advance(70 * time.Second)
			jobs, err := b.client.WorkflowJobs(b.ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"build", "deploy"}, []string{jobs[0].Name, jobs[1].Name})
			require.Equal(t, state{"in_progress", ""}, state{jobs[0].Status, jobs[0].Conclusion})
			require.Equal(t, state{"queued", ""}, state{jobs[1].Status, jobs[1].Conclusion})

			b.clock.Advance(5 * time.Minute)
			got, err := b.client.WorkflowRun(b.ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, c.wantRun, state{got.Status, got.Conclusion})
			jobs, err = b.client.WorkflowJobs(b.ctx, run.ID)
			require.NoError(t, err)
			deploy := jobs[1]
			require.Equal(t, c.wantDeploy, state{deploy.Status, deploy.Conclusion})
			require.False(t, deploy.CompletedAt.IsZero())
			require.Contains(t, deploy.URL, "/job/")
			steps := map[string]state{}
			for _, step := range deploy.Steps {
				steps[step.Name] = state{step.Status, step.Conclusion}
			}
			for name, want := range c.wantSteps {
				require.Equal(t, want, steps[name], name)
			}
		})
	}
}

func TestCancelWorkflowRun(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{Workflow: workflow})
	run := b.dispatch(t, "v0.9.0")

	for range 2 {
		require.NoError(t, b.client.CancelWorkflowRun(b.ctx, run.ID), "cancelling a cancelled run is no error")
	}
	got, err := b.client.WorkflowRun(b.ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, "cancelled", got.Conclusion)

	b.clock.Advance(time.Second) // or FindWorkflowRun could not tell the two dispatches apart
	finished := b.dispatch(t, "v0.9.0")
	require.NotEqual(t, run.ID, finished.ID)
	b.clock.Advance(10 * time.Minute)
	require.NoError(t, b.client.CancelWorkflowRun(b.ctx, finished.ID), "a completed run is left as it is")
	got, err = b.client.WorkflowRun(b.ctx, finished.ID)
	require.NoError(t, err)
	require.Equal(t, "success", got.Conclusion)

	require.ErrorIs(t, b.client.CancelWorkflowRun(b.ctx, 424242), github.ErrNotFound)
	_, err = b.client.WorkflowRun(b.ctx, 424242)
	require.ErrorIs(t, err, github.ErrNotFound)
}

// dispatch starts the deploy workflow on main for tag and finds its run, as the pipeline does.
func (b testBundle) dispatch(t *testing.T, tag string) github.WorkflowRun {
	t.Helper()
	query := github.WorkflowRunQuery{Event: "workflow_dispatch", DisplayTitle: "Deploy " + tag, CreatedAfter: b.clock.Now()}
	require.NoError(t, b.client.DispatchWorkflow(b.ctx, "deploy.yml", "main", map[string]any{"tag": tag}))
	run, err := b.client.FindWorkflowRun(b.ctx, "deploy.yml", query)
	require.NoError(t, err)
	require.NotNil(t, run, "the run dispatched for %s", tag)
	return *run
}
