package fakegithub_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

// dispatch starts the deploy workflow for tag the way the bot does (go-github v60 gets 204 and
// no run id back) and finds the run it started.
func dispatch(t *testing.T, b testBundle, tag string) *github.WorkflowRun {
	t.Helper()
	started := b.clock.Now().UTC().Truncate(time.Second)
	_, err := b.gh.Actions.CreateWorkflowDispatchEventByFileName(b.ctx, owner, repo, "deploy.yml",
		github.CreateWorkflowDispatchEventRequest{Ref: "main", Inputs: map[string]any{"tag": tag}})
	require.NoError(t, err)
	runs, _, err := b.gh.Actions.ListRepositoryWorkflowRuns(b.ctx, owner, repo, &github.ListWorkflowRunsOptions{
		Event: "workflow_dispatch", Created: ">=" + started.Format(time.RFC3339),
	})
	require.NoError(t, err)
	require.Equal(t, 1, runs.GetTotalCount())
	return runs.WorkflowRuns[0]
}

type jobState struct{ status, conclusion string }

func jobStates(t *testing.T, b testBundle, runID int64) map[string]jobState {
	t.Helper()
	jobs, _, err := b.gh.Actions.ListWorkflowJobs(b.ctx, owner, repo, runID, nil)
	require.NoError(t, err)
	states := map[string]jobState{}
	for _, job := range jobs.Jobs {
		states[job.GetName()] = jobState{job.GetStatus(), job.GetConclusion()}
		for _, step := range job.Steps {
			states[job.GetName()+"/"+step.GetName()] = jobState{step.GetStatus(), step.GetConclusion()}
		}
	}
	return states
}

func TestWorkflowRunProgressesOnTheClock(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		fault         bool
		wantRun       string
		wantDeployJob jobState
		wantSteps     map[string]jobState
	}{
		{
			name: "success", wantRun: "success", wantDeployJob: jobState{"completed", "success"},
			wantSteps: map[string]jobState{
				"deploy/Deploy": {"completed", "success"}, "deploy/Smoke test": {"completed", "success"},
			},
		},
		{
			name: "workflow fail", fault: true, wantRun: "failure", wantDeployJob: jobState{"completed", "failure"},
			wantSteps: map[string]jobState{
				"deploy/Deploy": {"completed", "failure"}, "deploy/Smoke test": {"completed", "skipped"},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakegithub.Options{Workflow: fakegithub.Workflow{QueueTime: 10 * time.Second, RunTime: 4 * time.Minute}})
			if c.fault {
				require.NoError(t, b.srv.Fail(fakegithub.FaultWorkflowFail, 1))
			}
			run := dispatch(t, b, "v0.9.0")
			require.Equal(t, "queued", run.GetStatus())
			require.Equal(t, "Deploy v0.9.0", run.GetDisplayTitle())
			mainHead, _ := b.srv.Branch("main")
			require.Equal(t, mainHead, run.GetHeadSHA())

			b.clock.Advance(70 * time.Second) // 1 min into the run: build is running
			got, _, err := b.gh.Actions.GetWorkflowRunByID(b.ctx, owner, repo, run.GetID())
			require.NoError(t, err)
			require.Equal(t, "in_progress", got.GetStatus())
			require.Empty(t, got.GetConclusion())
			states := jobStates(t, b, run.GetID())
			require.Equal(t, jobState{"in_progress", ""}, states["build"])
			require.Equal(t, jobState{"queued", ""}, states["deploy"])

			b.clock.Advance(2 * time.Minute) // 3 min in: build done, deploy running
			states = jobStates(t, b, run.GetID())
			require.Equal(t, jobState{"completed", "success"}, states["build"])
			require.Equal(t, "in_progress", states["deploy"].status)

			b.clock.Advance(2 * time.Minute)
			got, _, err = b.gh.Actions.GetWorkflowRunByID(b.ctx, owner, repo, run.GetID())
			require.NoError(t, err)
			require.Equal(t, "completed", got.GetStatus())
			require.Equal(t, c.wantRun, got.GetConclusion())
			states = jobStates(t, b, run.GetID())
			require.Equal(t, c.wantDeployJob, states["deploy"])
			for step, want := range c.wantSteps {
				require.Equal(t, want, states[step], step)
			}
			runs := b.srv.WorkflowRuns()
			require.Equal(t, c.wantRun, runs[len(runs)-1].Conclusion)
		})
	}
}

func TestCancelWorkflowRun(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	run := dispatch(t, b, "v0.9.0")

	_, err := b.gh.Actions.CancelWorkflowRunByID(b.ctx, owner, repo, run.GetID())
	var accepted *github.AcceptedError
	require.ErrorAs(t, err, &accepted, "GitHub answers 202, which go-github reports as AcceptedError")
	got, _, err := b.gh.Actions.GetWorkflowRunByID(b.ctx, owner, repo, run.GetID())
	require.NoError(t, err)
	require.Equal(t, "completed", got.GetStatus())
	require.Equal(t, "cancelled", got.GetConclusion())
	require.Equal(t, jobState{"completed", "cancelled"}, jobStates(t, b, run.GetID())["deploy"])

	_, err = b.gh.Actions.CancelWorkflowRunByID(b.ctx, owner, repo, run.GetID())
	requireStatus(t, err, http.StatusConflict, "Cannot cancel a workflow run that is completed.")
}

func TestDispatchRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	cases := []struct {
		name     string
		workflow string
		request  github.CreateWorkflowDispatchEventRequest
		status   int
		message  string
	}{
		{"required input missing", "deploy.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main"},
			http.StatusUnprocessableEntity, "Required input 'tag' not provided"},
		{"unexpected input", "deploy.yml", github.CreateWorkflowDispatchEventRequest{
			Ref: "main", Inputs: map[string]any{"tag": "v0.9.0", "environment": "staging"},
		}, http.StatusUnprocessableEntity, `Unexpected inputs provided: ["environment"]`},
		{"unknown ref", "deploy.yml", github.CreateWorkflowDispatchEventRequest{
			Ref: "release/v9.9.9", Inputs: map[string]any{"tag": "v0.9.0"},
		}, http.StatusUnprocessableEntity, "No ref found for: release/v9.9.9"},
		{"unknown workflow", "release.yml", github.CreateWorkflowDispatchEventRequest{
			Ref: "main", Inputs: map[string]any{"tag": "v0.9.0"},
		}, http.StatusNotFound, "Not Found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := b.gh.Actions.CreateWorkflowDispatchEventByFileName(b.ctx, owner, repo, c.workflow, c.request)
			requireStatus(t, err, c.status, c.message)
		})
	}
	require.Len(t, b.srv.WorkflowRuns(), 1, "only the seeded run")
}

func TestWorkflowRunFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	dispatched := dispatch(t, b, "v0.9.0")
	seeded := b.srv.WorkflowRuns()[0]
	now := b.clock.Now().UTC()

	cases := []struct {
		name    string
		options github.ListWorkflowRunsOptions
		want    []int64
	}{
		{"all, newest first", github.ListWorkflowRunsOptions{}, []int64{dispatched.GetID(), seeded.ID}},
		{"event", github.ListWorkflowRunsOptions{Event: "push"}, []int64{seeded.ID}},
		{"head sha", github.ListWorkflowRunsOptions{HeadSHA: seeded.HeadSHA}, []int64{dispatched.GetID(), seeded.ID}},
		{"branch", github.ListWorkflowRunsOptions{Branch: "v0.9.0"}, []int64{seeded.ID}},
		{"status", github.ListWorkflowRunsOptions{Status: "queued"}, []int64{dispatched.GetID()}},
		{"conclusion as status", github.ListWorkflowRunsOptions{Status: "success"}, []int64{seeded.ID}},
		{"created on a day", github.ListWorkflowRunsOptions{Created: now.Format(time.DateOnly)}, []int64{dispatched.GetID()}},
		{"created before", github.ListWorkflowRunsOptions{Created: "<" + now.Add(-time.Hour).Format(time.RFC3339)}, []int64{seeded.ID}},
		{"created in a range", github.ListWorkflowRunsOptions{
			Created: now.AddDate(0, 0, -9).Format(time.DateOnly) + ".." + now.AddDate(0, 0, -7).Format(time.DateOnly),
		}, []int64{seeded.ID}},
		{"created since, open-ended", github.ListWorkflowRunsOptions{Created: now.Add(-time.Minute).Format(time.RFC3339) + "..*"},
			[]int64{dispatched.GetID()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runs, _, err := b.gh.Actions.ListRepositoryWorkflowRuns(b.ctx, owner, repo, &c.options)
			require.NoError(t, err)
			var ids []int64
			for _, r := range runs.WorkflowRuns {
				ids = append(ids, r.GetID())
			}
			require.Equal(t, c.want, ids)
		})
	}
}
