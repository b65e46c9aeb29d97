package fakegithub

import (
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

const workflowID = 161_335_001

// workflowRun is a run of the deploy workflow. Its progress is not stored: it follows from
// createdAt, the workflow's durations and the clock (see progress).
type workflowRun struct {
	id          int64
	number      int
	event       string // push or workflow_dispatch
	headBranch  string // the pushed tag, or the branch or tag dispatched on
	headSHA     string
	tag         string // the tag it deploys
	inputs      map[string]string
	createdAt   time.Time
	fails       bool      // the deploy step fails
	cancelledAt time.Time // zero unless cancelled
	jobIDs      []int64
}

// WorkflowRun is a snapshot of a run of the deploy workflow.
type WorkflowRun struct {
	ID         int64
	RunNumber  int
	Event      string // push or workflow_dispatch
	HeadBranch string
	HeadSHA    string
	Tag        string // the tag it deploys
	Inputs     map[string]string
	Status     string // queued, in_progress or completed
	Conclusion string // success, failure or cancelled once completed
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// The deploy workflow's jobs and steps; with the "workflow fail" fault, step failingStep of job
// failingJob fails.
var deployJobs = []struct {
	name  string
	steps []string
}{
	{"build", []string{"Set up job", "Check out", "Build image", "Push image", "Complete job"}},
	{"deploy", []string{"Set up job", "Deploy", "Smoke test", "Complete job"}},
}

const failingJob, failingStep = 1, 1

// progress is where a span of a run (the run, a job, a step) stands at a moment.
type progress struct {
	status      string // queued, in_progress or completed
	conclusion  string // once completed
	startedAt   time.Time
	completedAt time.Time
}

// spanProgress places the span [from, to) at now, for a run cancelled at cancelled (zero if not).
// failed says whether the span concludes in failure when it completes.
func spanProgress(from, to, now, cancelled time.Time, failed bool) progress {
	if !cancelled.IsZero() && cancelled.Before(to) {
		p := progress{status: "completed", conclusion: "cancelled", completedAt: cancelled}
		if !cancelled.Before(from) {
			p.startedAt = from
		}
		return p
	}
	switch {
	case now.Before(from):
		return progress{status: "queued"}
	case now.Before(to):
		return progress{status: "in_progress", startedAt: from}
	case failed:
		return progress{status: "completed", conclusion: "failure", startedAt: from, completedAt: to}
	default:
		return progress{status: "completed", conclusion: "success", startedAt: from, completedAt: to}
	}
}

// window is when the run is in progress.
func (s *Server) window(r *workflowRun) (start, end time.Time) {
	start = r.createdAt.Add(s.opts.Workflow.QueueTime)
	return start, start.Add(s.opts.Workflow.RunTime)
}

func (s *Server) runProgress(r *workflowRun, now time.Time) progress {
	start, end := s.window(r)
	p := spanProgress(start, end, now, r.cancelledAt, r.fails)
	if p.status == "queued" {
		p.startedAt = r.createdAt
	}
	return p
}

// jobProgress splits the run's window evenly between the jobs, and a job's between its steps.
// Once a step has failed, the steps after it are skipped.
func (s *Server) jobProgress(r *workflowRun, job int, now time.Time) (progress, []progress) {
	start, end := s.window(r)
	jobLength := end.Sub(start) / time.Duration(len(deployJobs))
	from := start.Add(time.Duration(job) * jobLength)
	failing := r.fails && job == failingJob
	steps := make([]progress, len(deployJobs[job].steps))
	stepLength := jobLength / time.Duration(len(steps))
	for i := range steps {
		stepFrom, stepTo := from.Add(time.Duration(i)*stepLength), from.Add(time.Duration(i+1)*stepLength)
		if failing && i > failingStep {
			stepFrom = from.Add(time.Duration(failingStep+1) * stepLength)
			stepTo = stepFrom
		}
		steps[i] = spanProgress(stepFrom, stepTo, now, r.cancelledAt, failing && i == failingStep)
		if failing && i > failingStep && steps[i].conclusion == "success" {
			steps[i].conclusion = "skipped"
		}
	}
	return spanProgress(from, from.Add(jobLength), now, r.cancelledAt, failing), steps
}

// tagPushed starts a run when tag matches the workflow's push trigger.
func (s *Server) tagPushed(tag, sha string, now time.Time) {
	if matched, _ := path.Match(s.opts.Workflow.TagPattern, tag); matched {
		s.startRun("push", tag, sha, tag, nil, now)
	}
}

func (s *Server) startRun(event, headBranch, sha, tag string, inputs map[string]string, now time.Time) {
	r := &workflowRun{
		id: s.newID(), number: len(s.runs) + 1, event: event, headBranch: headBranch, headSHA: sha, tag: tag,
		inputs: inputs, createdAt: now, fails: s.takeFault(FaultWorkflowFail),
	}
	for range deployJobs {
		r.jobIDs = append(r.jobIDs, s.newID())
	}
	s.runs = append(s.runs, r)
}

func (s *Server) snapshot(r *workflowRun, now time.Time) WorkflowRun {
	p := s.runProgress(r, now)
	return WorkflowRun{
		ID: r.id, RunNumber: r.number, Event: r.event, HeadBranch: r.headBranch, HeadSHA: r.headSHA, Tag: r.tag,
		Inputs: maps.Clone(r.inputs), Status: p.status, Conclusion: p.conclusion, CreatedAt: r.createdAt,
		UpdatedAt: latest(r.createdAt, p.startedAt, p.completedAt),
	}
}

func latest(times ...time.Time) time.Time { return slices.MaxFunc(times, time.Time.Compare) }

func (s *Server) workflowJSON() object {
	w := s.opts.Workflow
	return object{
		"id": workflowID, "node_id": nodeID("W", workflowID), "name": w.Name, "path": ".github/workflows/" + w.File,
		"state": "active", "created_at": "2023-03-01T09:00:00Z", "updated_at": "2023-03-01T09:00:00Z",
		"url":       fmt.Sprintf("%s/actions/workflows/%d", s.repoURL(), workflowID),
		"html_url":  s.htmlURL() + "/blob/main/.github/workflows/" + w.File,
		"badge_url": s.htmlURL() + "/workflows/" + w.Name + "/badge.svg",
	}
}

func (s *Server) runJSON(r *workflowRun, now time.Time) object {
	snap := s.snapshot(r, now)
	url := fmt.Sprintf("%s/actions/runs/%d", s.repoURL(), r.id)
	head := s.commits[r.headSHA]
	name, email := gitIdentity(head.author)
	author := object{"name": name, "email": email}
	return object{
		"id": r.id, "node_id": nodeID("WFR", r.id), "name": s.opts.Workflow.Name,
		"display_title": s.opts.Workflow.Name + " " + r.tag, "path": ".github/workflows/" + s.opts.Workflow.File,
		"head_branch": r.headBranch, "head_sha": r.headSHA, "run_number": r.number, "run_attempt": 1,
		"event": r.event, "status": snap.Status, "conclusion": nullable(snap.Conclusion), "workflow_id": workflowID,
		"check_suite_id": r.id + 500_000, "check_suite_node_id": nodeID("CS", r.id+500_000),
		"url": url, "html_url": fmt.Sprintf("%s/actions/runs/%d", s.htmlURL(), r.id),
		"jobs_url": url + "/jobs", "logs_url": url + "/logs", "artifacts_url": url + "/artifacts",
		"cancel_url": url + "/cancel", "rerun_url": url + "/rerun", "previous_attempt_url": nil,
		"check_suite_url": fmt.Sprintf("%s/check-suites/%d", s.repoURL(), r.id+500_000),
		"workflow_url":    fmt.Sprintf("%s/actions/workflows/%d", s.repoURL(), workflowID),
		"pull_requests":   []object{}, "referenced_workflows": []object{},
		"created_at": timestamp(r.createdAt), "updated_at": timestamp(snap.UpdatedAt),
		"run_started_at": timestamp(r.createdAt), "actor": s.userJSON(tokenUser),
		"triggering_actor": s.userJSON(tokenUser),
		"head_commit": object{
			"id": head.sha, "tree_id": head.tree, "message": head.message, "timestamp": timestamp(head.date),
			"author": author, "committer": author,
		},
		"repository": s.repositoryJSON(), "head_repository": s.repositoryJSON(),
	}
}

func (s *Server) jobJSON(r *workflowRun, job int, now time.Time) object {
	p, stepProgress := s.jobProgress(r, job, now)
	id := r.jobIDs[job]
	steps := make([]object, len(stepProgress))
	for i, step := range stepProgress {
		steps[i] = object{
			"name": deployJobs[job].steps[i], "number": i + 1, "status": step.status,
			"conclusion": nullable(step.conclusion), "started_at": timestamp(step.startedAt),
			"completed_at": timestamp(step.completedAt),
		}
	}
	started := !p.startedAt.IsZero()
	runner := func(value any) any {
		if started {
			return value
		}
		return nil
	}
	return object{
		"id": id, "node_id": nodeID("CR", id), "run_id": r.id, "run_attempt": 1, "name": deployJobs[job].name,
		"workflow_name": s.opts.Workflow.Name, "head_branch": r.headBranch, "head_sha": r.headSHA,
		"url":           fmt.Sprintf("%s/actions/jobs/%d", s.repoURL(), id),
		"html_url":      fmt.Sprintf("%s/actions/runs/%d/job/%d", s.htmlURL(), r.id, id),
		"run_url":       fmt.Sprintf("%s/actions/runs/%d", s.repoURL(), r.id),
		"check_run_url": fmt.Sprintf("%s/check-runs/%d", s.repoURL(), id),
		"status":        p.status, "conclusion": nullable(p.conclusion), "created_at": timestamp(r.createdAt),
		"started_at": timestamp(latest(r.createdAt, p.startedAt)), "completed_at": timestamp(p.completedAt),
		"steps": steps, "labels": []string{"ubuntu-latest"}, "runner_id": runner(int64(22)),
		"runner_name": runner("GitHub Actions 22"), "runner_group_id": runner(int64(2)),
		"runner_group_name": runner("GitHub Actions"),
	}
}

func (s *Server) isWorkflow(id string) bool {
	return id == s.opts.Workflow.File || id == strconv.Itoa(workflowID)
}

func (s *Server) run(c *call) (*workflowRun, bool) {
	return byID(c, "id", s.runs, func(r *workflowRun) int64 { return r.id })
}

func (s *Server) listWorkflows(c *call) reply {
	return ok(object{"total_count": 1, "workflows": []object{s.workflowJSON()}})
}

func (s *Server) getWorkflow(c *call) reply {
	if !s.isWorkflow(c.params["workflow"]) {
		return notFound()
	}
	return ok(s.workflowJSON())
}

// listWorkflowRuns serves both the repository's and the workflow's run lists, newest first,
// with GitHub's filters.
func (s *Server) listWorkflowRuns(c *call) reply {
	if id, forWorkflow := c.params["workflow"]; forWorkflow && !s.isWorkflow(id) {
		return notFound()
	}
	created, valid := createdFilter(c.query("created"))
	if !valid {
		return validationFailed("WorkflowRun", "created", "invalid", "")
	}
	var runs []*workflowRun
	for _, r := range slices.Backward(s.runs) {
		snap := s.snapshot(r, c.now)
		if matches(c.query("event"), r.event) && matches(c.query("head_sha"), r.headSHA) &&
			matches(c.query("branch"), r.headBranch) && matches(c.query("actor"), tokenUser) &&
			(matches(c.query("status"), snap.Status) || c.query("status") == snap.Conclusion) &&
			created(r.createdAt) {
			runs = append(runs, r)
		}
	}
	page, header := paginate(s, c, runs)
	body := make([]object, len(page))
	for i, r := range page {
		body[i] = s.runJSON(r, c.now)
	}
	return reply{status: http.StatusOK, header: header, body: object{"total_count": len(runs), "workflow_runs": body}}
}

// createdFilter reads GitHub's date-range syntax: "2024-05-01", ">=2024-05-01T10:00:00Z",
// "<2024-05-02", "2024-05-01..2024-05-31" (either side may be "*"). A date covers its whole day.
func createdFilter(expr string) (func(time.Time) bool, bool) {
	if expr == "" {
		return func(time.Time) bool { return true }, true
	}
	if from, to, isRange := strings.Cut(expr, ".."); isRange {
		lo, loOK := parseMoment(from)
		hi, hiOK := parseMoment(to)
		return func(t time.Time) bool {
			return (from == "*" || !t.Before(lo.start)) && (to == "*" || t.Before(hi.end))
		}, (loOK || from == "*") && (hiOK || to == "*")
	}
	for _, op := range []string{">=", "<=", ">", "<", ""} {
		value, found := strings.CutPrefix(expr, op)
		if !found {
			continue
		}
		m, valid := parseMoment(value)
		return func(t time.Time) bool {
			switch op {
			case ">=":
				return !t.Before(m.start)
			case ">":
				return !t.Before(m.end)
			case "<=":
				return t.Before(m.end)
			case "<":
				return t.Before(m.start)
			}
			return !t.Before(m.start) && t.Before(m.end)
		}, valid
	}
	return nil, false
}

// moment is the span a date (a whole day) or a timestamp (its second) denotes.
type moment struct{ start, end time.Time }

func parseMoment(s string) (moment, bool) {
	if day, err := time.Parse(time.DateOnly, s); err == nil {
		return moment{day, day.AddDate(0, 0, 1)}, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return moment{t, t.Add(time.Second)}, true
	}
	return moment{}, false
}

func (s *Server) getWorkflowRun(c *call) reply {
	r, found := s.run(c)
	if !found {
		return notFound()
	}
	return ok(s.runJSON(r, c.now))
}

func (s *Server) listJobs(c *call) reply {
	r, found := s.run(c)
	if !found {
		return notFound()
	}
	jobs := make([]int, len(deployJobs))
	for i := range jobs {
		jobs[i] = i
	}
	page, header := paginate(s, c, jobs)
	body := make([]object, len(page))
	for i, job := range page {
		body[i] = s.jobJSON(r, job, c.now)
	}
	return reply{status: http.StatusOK, header: header, body: object{"total_count": len(jobs), "jobs": body}}
}

func (s *Server) cancelWorkflowRun(c *call) reply {
	r, found := s.run(c)
	if !found {
		return notFound()
	}
	if s.runProgress(r, c.now).status == "completed" {
		return apiError(http.StatusConflict, "Cannot cancel a workflow run that is completed.")
	}
	r.cancelledAt = c.now
	return reply{status: http.StatusAccepted, body: object{}}
}

func (s *Server) dispatchWorkflow(c *call) reply {
	if !s.isWorkflow(c.params["workflow"]) {
		return notFound()
	}
	var req struct {
		Ref    string         `json:"ref"`
		Inputs map[string]any `json:"inputs"`
	}
	if answer, ok := decode(c, &req); !ok {
		return answer
	}
	name := s.opts.Workflow.Input
	var unexpected []string
	inputs := map[string]string{}
	for key, value := range req.Inputs {
		if key != name {
			unexpected = append(unexpected, strconv.Quote(key))
		}
		inputs[key] = fmt.Sprint(value)
	}
	if len(unexpected) > 0 {
		slices.Sort(unexpected)
		return apiError(http.StatusUnprocessableEntity, "Unexpected inputs provided: ["+strings.Join(unexpected, ", ")+"]")
	}
	if inputs[name] == "" {
		return apiError(http.StatusUnprocessableEntity, fmt.Sprintf("Required input '%s' not provided", name))
	}
	ref := strings.TrimPrefix(strings.TrimPrefix(req.Ref, "refs/heads/"), "refs/tags/")
	sha, isBranch := s.refs["refs/heads/"+ref]
	if !isBranch {
		var isTag bool
		if sha, isTag = s.refs["refs/tags/"+ref]; !isTag {
			return apiError(http.StatusUnprocessableEntity, "No ref found for: "+req.Ref)
		}
	}
	s.startRun("workflow_dispatch", ref, s.peel(sha), inputs[name], inputs, c.now)
	return reply{status: http.StatusNoContent}
}
