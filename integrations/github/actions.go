package github

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	gogithub "github.com/google/go-github/v60/github"
)

// WorkflowRun is a run of a GitHub Actions workflow.
type WorkflowRun struct {
	ID           int64
	URL          string // on GitHub's web site
	DisplayTitle string // the workflow's run-name, e.g. "Deploy v1.0.0"
	Status       string // queued, in_progress or completed (also waiting, requested, pending)
	Conclusion   string // once completed: success, failure, cancelled, timed_out, …
	HeadSHA      string
	Event        string // push, workflow_dispatch, …
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func workflowRunOf(r *gogithub.WorkflowRun) WorkflowRun {
	return WorkflowRun{
		ID: r.GetID(), URL: r.GetHTMLURL(), DisplayTitle: r.GetDisplayTitle(), Status: r.GetStatus(),
		Conclusion: r.GetConclusion(), HeadSHA: r.GetHeadSHA(), Event: r.GetEvent(),
		CreatedAt: r.GetCreatedAt().Time, UpdatedAt: r.GetUpdatedAt().Time,
	}
}

// Job is one job of a workflow run.
type Job struct {
	ID          int64
	Name        string
	Status      string // queued, in_progress or completed
	Conclusion  string
	URL         string // on GitHub's web site
	StartedAt   time.Time
	CompletedAt time.Time // zero until completed
	Steps       []Step
}

// Step is one step of a job.
type Step struct {
	Name, Status, Conclusion string
}

// DispatchWorkflow starts workflowFile (e.g. "deploy.yml") on ref (a branch or tag) with inputs.
// GitHub answers with no run ID: find the run with FindWorkflowRun. Dispatching is not
// idempotent by itself; look for the run before dispatching again.
func (c *Client) DispatchWorkflow(ctx context.Context, workflowFile, ref string, inputs map[string]any) error {
	resp, err := c.gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, c.owner, c.repo, workflowFile,
		gogithub.CreateWorkflowDispatchEventRequest{Ref: ref, Inputs: inputs})
	if err != nil {
		return fail(ctx, fmt.Sprintf("dispatching %s on %s", workflowFile, ref), resp, err)
	}
	return nil
}

// WorkflowRunQuery says which run FindWorkflowRun looks for. Empty fields match anything.
type WorkflowRunQuery struct {
	Event        string    // push for a tag push, workflow_dispatch for a dispatch
	HeadSHA      string    // the commit the run is on
	Branch       string    // the branch or tag the run is on (a pushed tag, or the ref dispatched on)
	DisplayTitle string    // the run's name, e.g. "Deploy v1.0.0", telling apart runs on one commit
	CreatedAfter time.Time // no earlier than this, to the second
}

// FindWorkflowRun returns the earliest run of workflowFile that matches q; nil when there is
// none yet (GitHub creates a run a few seconds after the push or dispatch).
//
// Matching rule: event, head SHA, branch and display title equal, created at or after
// q.CreatedAfter truncated to the second (GitHub's resolution). Take CreatedAfter from just
// before the push or dispatch, allowing for the skew between opsbot's clock and GitHub's.
//
// Race: two dispatches of the same workflow on the same commit and ref, with the same title,
// after CreatedAfter cannot be told apart; the earliest run is returned to both. Record the ID
// once found and follow the run by ID (WorkflowRun) from then on.
func (c *Client) FindWorkflowRun(ctx context.Context, workflowFile string, q WorkflowRunQuery) (*WorkflowRun, error) {
	since := q.CreatedAfter.UTC().Truncate(time.Second)
	filter := gogithub.ListWorkflowRunsOptions{Event: q.Event, HeadSHA: q.HeadSHA, Branch: q.Branch}
	if !q.CreatedAfter.IsZero() {
		filter.Created = ">=" + since.Format(time.RFC3339)
	}
	runs, resp, err := allPages(func(page gogithub.ListOptions) ([]*gogithub.WorkflowRun, *gogithub.Response, error) {
		filter.ListOptions = page
		result, resp, err := c.gh.Actions.ListWorkflowRunsByFileName(ctx, c.owner, c.repo, workflowFile, &filter)
		if err != nil {
			return nil, resp, err
		}
		return result.WorkflowRuns, resp, nil
	})
	if err != nil {
		return nil, fail(ctx, "finding the run of "+workflowFile, resp, err)
	}
	// GitHub lists the newest first. It cannot filter on the title, and ignores query parameters
	// it does not know (as an older Enterprise Server may), so every field is checked here.
	for _, run := range slices.Backward(runs) {
		r := workflowRunOf(run)
		if matches(q.Event, r.Event) && matches(q.HeadSHA, r.HeadSHA) && matches(q.Branch, run.GetHeadBranch()) &&
			matches(q.DisplayTitle, r.DisplayTitle) && !r.CreatedAt.Before(since) {
			return &r, nil
		}
	}
	return nil, nil
}

// matches reports whether a query field is unset or equals value.
func matches(want, value string) bool { return want == "" || want == value }

// WorkflowRun returns run id as it stands now; ErrNotFound when there is none. Polling it costs
// no rate limit while the run has not changed (the request is conditional).
func (c *Client) WorkflowRun(ctx context.Context, id int64) (WorkflowRun, error) {
	run, resp, err := c.gh.Actions.GetWorkflowRunByID(ctx, c.owner, c.repo, id)
	if err != nil {
		return WorkflowRun{}, fail(ctx, fmt.Sprintf("looking up workflow run %d", id), resp, err)
	}
	return workflowRunOf(run), nil
}

// WorkflowJobs returns the jobs of run id's latest attempt, with their steps.
func (c *Client) WorkflowJobs(ctx context.Context, runID int64) ([]Job, error) {
	jobs, resp, err := allPages(func(page gogithub.ListOptions) ([]*gogithub.WorkflowJob, *gogithub.Response, error) {
		result, resp, err := c.gh.Actions.ListWorkflowJobs(ctx, c.owner, c.repo, runID, &gogithub.ListWorkflowJobsOptions{ListOptions: page})
		if err != nil {
			return nil, resp, err
		}
		return result.Jobs, resp, nil
	})
	if err != nil {
		return nil, fail(ctx, fmt.Sprintf("listing the jobs of workflow run %d", runID), resp, err)
	}
	result := make([]Job, len(jobs))
	for i, job := range jobs {
		steps := make([]Step, len(job.Steps))
		for j, step := range job.Steps {
			steps[j] = Step{Name: step.GetName(), Status: step.GetStatus(), Conclusion: step.GetConclusion()}
		}
		result[i] = Job{
			ID: job.GetID(), Name: job.GetName(), Status: job.GetStatus(), Conclusion: job.GetConclusion(),
			URL: job.GetHTMLURL(), StartedAt: job.GetStartedAt().Time, CompletedAt: job.GetCompletedAt().Time, Steps: steps,
		}
	}
	return result, nil
}

// CancelWorkflowRun asks GitHub to cancel run id. A run that has completed already (cancelled or
// not) is left as it is, without error. Cancelling is asked for first rather than after a look:
// GitHub refuses it harmlessly for a completed run, and a run in progress is the common case.
func (c *Client) CancelWorkflowRun(ctx context.Context, id int64) error {
	resp, err := c.gh.Actions.CancelWorkflowRunByID(ctx, c.owner, c.repo, id)
	var accepted *gogithub.AcceptedError // GitHub's 202: cancelling has begun
	if err == nil || errors.As(err, &accepted) {
		return nil
	}
	err = fail(ctx, fmt.Sprintf("cancelling workflow run %d", id), resp, err)
	if !errors.Is(err, ErrConflict) {
		return err
	}
	run, lookErr := c.WorkflowRun(ctx, id)
	if lookErr == nil && run.Status == "completed" {
		return nil
	}
	return err
}
