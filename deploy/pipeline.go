package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/config"
	gh "github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// Deploy steps, in order: the runbook's prerequisites, then its deployment process.
const (
	stepReleaseBranch = "release_branch"
	stepCI            = "ci"
	stepSoak          = "soak"
	stepReview        = "review"
	stepChecklist     = "checklist"
	stepApproval      = "approval"
	stepMerge         = "merge"
	stepTag           = "tag"
	stepWorkflow      = "workflow"
	stepVerification  = "verification"
)

var deploySteps = []string{
	stepReleaseBranch, stepCI, stepSoak, stepReview, stepChecklist, stepApproval,
	stepMerge, stepTag, stepWorkflow, stepVerification,
}

// How often waiting gates look again. CI and reviews change in GitHub, not in Slack, so the
// bot must poll them; workflows are followed closely because people watch the card.
const (
	recheckCI       = 30 * time.Second
	recheckBlocked  = 2 * time.Minute
	recheckReview   = time.Minute
	recheckHead     = 5 * time.Minute
	recheckWorkflow = 10 * time.Second
	recheckNoSoak   = 10 * time.Minute
	workflowStartBy = 5 * time.Minute
)

// StartDeploy starts a deploy of version to env (the default environment when empty). It is
// refused when another run holds the environment, naming who and since when.
func (s *Service) StartDeploy(ctx context.Context, who chat.Actor, version, env string) (chat.Message, error) {
	envCfg, err := s.environment(env)
	if err != nil {
		return chat.Message{}, err
	}
	now := s.now()
	d := runData{Version: version, Env: envCfg.Name, Branch: s.branchFor(version)}
	run := store.Run{
		Kind: store.KindDeploy, Env: envCfg.Name, State: store.RunRunning, RequestedBy: who.UserID,
		Channel: s.cfg.Slack.DeploysChannel, Title: fmt.Sprintf("Deploy %s → %s", version, envCfg.Name),
		WakeAt: &now, LockName: envLock(envCfg.Name), Steps: pendingSteps(deploySteps...),
	}
	if err := encodeData(&run, d); err != nil {
		return chat.Message{}, err
	}
	run, err = s.opts.Store.CreateRun(ctx, run)
	var held *store.LockHeldError
	if errors.As(err, &held) {
		return chat.Message{}, s.lockRefusal(ctx, envCfg.Name, held.Lock)
	}
	if err != nil {
		return chat.Message{}, fmt.Errorf("recording the deploy of %s: %w", version, err)
	}
	if err := s.postCard(ctx, run); err != nil {
		return chat.Message{}, err
	}
	s.opts.Wake()
	return say("Deploy of %s to %s started; follow it on the card in <#%s>.", version, envCfg.Name, run.Channel), nil
}

// environment resolves an environment name ("" = the default) or refuses with the known ones.
func (s *Service) environment(name string) (*config.Environment, error) {
	if name == "" {
		name = s.cfg.Deploy.DefaultEnvironment
	}
	env, ok := s.cfg.Deploy.Environments[name]
	if !ok {
		return nil, chat.Refuse("There is no environment %q. Known environments: %s.",
			name, strings.Join(s.cfg.EnvironmentNames(), ", "))
	}
	return env, nil
}

func (s *Service) lockRefusal(ctx context.Context, env string, lock store.Lock) error {
	what := fmt.Sprintf("run #%d", lock.RunID)
	if holder, err := s.opts.Store.GetRun(ctx, lock.RunID); err == nil {
		what = fmt.Sprintf("%s (run #%d, %s)", holder.Title, holder.ID, describeState(holder))
	}
	return chat.Refuse("%s is busy: %s was started by %s %s. Wait for it to finish, or cancel it with /deploy cancel %s.",
		env, what, requesterOf(lock.HeldBy), chat.Date(lock.Since), env)
}

// pipeline is the runner's view of a deploy run.
type pipeline struct{ s *Service }

// Changed shows the change on the card and, once a deploy failed verification in an
// environment with auto_rollback, starts its rollback.
func (p pipeline) Changed(ctx context.Context, run store.Run) error {
	if err := p.s.postCard(ctx, run); err != nil {
		return err
	}
	return p.s.autoRollBack(ctx, run)
}

func (p pipeline) Steps(store.Run) []runner.Step {
	s := p.s
	return []runner.Step{
		{Name: stepReleaseBranch, Run: s.checkReleaseBranch},
		{Name: stepCI, Run: s.checkCI},
		{Name: stepSoak, Run: s.checkSoak},
		{Name: stepReview, Run: s.checkReview},
		{Name: stepChecklist, Run: s.checkChecklist},
		{Name: stepApproval, Run: s.checkApproval},
		{Name: stepMerge, Run: s.merge},
		{Name: stepTag, Run: s.tagAndRelease},
		{Name: stepWorkflow, Run: s.followWorkflow},
		{Name: stepVerification, Run: s.verify},
	}
}

// stepEnv is the environment a step's run deploys to.
func (s *Service) stepEnv(run store.Run) *config.Environment {
	if env, ok := s.cfg.Deploy.Environments[run.Env]; ok {
		return env
	}
	return &config.Environment{Name: run.Env}
}

// refreshHead reads the release branch's head and records it when it moved.
func (s *Service) refreshHead(ctx context.Context, x *runner.Exec) (gh.Branch, runData, error) {
	d, err := decodeData(x.Run())
	if err != nil {
		return gh.Branch{}, d, err
	}
	br, err := s.opts.GitHub.Branch(ctx, d.Branch)
	if err != nil {
		return br, d, err
	}
	if br.SHA != d.BranchSHA {
		if err := updateRunData(ctx, x, func(d *runData) { d.BranchSHA = br.SHA }); err != nil {
			return br, d, err
		}
		d.BranchSHA = br.SHA
	}
	return br, d, nil
}

// checkReleaseBranch: the release branch exists, was cut from develop, and its pull request
// into main is open.
func (s *Service) checkReleaseBranch(ctx context.Context, x *runner.Exec) runner.Result {
	_, d, err := s.refreshHead(ctx, x)
	if errors.Is(err, gh.ErrNotFound) {
		return runner.Failed(fmt.Sprintf("%s does not exist; start the release with /release %s", d.Branch, d.Version))
	}
	if err != nil {
		return retryOrFail(x, err, "reading "+d.Branch)
	}
	develop := s.cfg.GitHub.DevelopBranch
	cmp, err := s.opts.GitHub.Compare(ctx, develop, d.Branch)
	if errors.Is(err, gh.ErrNotFound) || err == nil && cmp.MergeBaseSHA == "" {
		// GitHub answers 404 when two branches share no history.
		return runner.Failed(fmt.Sprintf("%s shares no history with %s: it was not cut from it", d.Branch, develop))
	}
	if err != nil {
		return retryOrFail(x, err, "comparing "+d.Branch+" with "+develop)
	}
	pr, err := s.opts.GitHub.FindPullRequest(ctx, d.Branch, s.cfg.GitHub.MainBranch)
	if err != nil {
		return retryOrFail(x, err, "looking for the release pull request")
	}
	if pr == nil || (pr.State != "open" && !pr.Merged) {
		return runner.Failed(fmt.Sprintf("no open pull request from %s into %s; /release %s opens it",
			d.Branch, s.cfg.GitHub.MainBranch, d.Version))
	}
	if err := updateRunData(ctx, x, func(d *runData) { d.PR, d.PRURL = pr.Number, pr.URL }); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	from := fmt.Sprintf("cut from %s at %s", develop, shortSHA(cmp.MergeBaseSHA))
	if cmp.AheadBy > 0 {
		from += fmt.Sprintf(" (+%d release fixes)", cmp.AheadBy)
	}
	return runner.Passed(fmt.Sprintf("%s · %s open", from, chat.Link(pr.URL, fmt.Sprintf("PR #%d", pr.Number))))
}

// checkCI: every check run and commit status on the release head succeeded (or the required
// ones, when the environment names them).
func (s *Service) checkCI(ctx context.Context, x *runner.Exec) runner.Result {
	br, _, err := s.refreshHead(ctx, x)
	if err != nil {
		return retryOrFail(x, err, "reading the release head")
	}
	env := s.stepEnv(x.Run())
	sum, err := s.opts.GitHub.Checks(ctx, br.SHA, env.RequiredChecks)
	if err != nil {
		return retryOrFail(x, err, "reading the checks of "+shortSHA(br.SHA))
	}
	switch {
	case sum.Failed > 0:
		links := make([]string, 0, len(sum.Failing))
		for _, c := range sum.Failing {
			links = append(links, chat.Link(c.URL, c.Name))
		}
		return runner.Blocked(x.Now().Add(recheckBlocked), fmt.Sprintf("%d of %d checks failed on %s: %s — push a fix; I re-check every %s",
			sum.Failed, sum.Total, shortSHA(br.SHA), strings.Join(links, ", "), chat.Duration(recheckBlocked)))
	case sum.Total == 0:
		return runner.Poll(x.Now(), recheckCI, fmt.Sprintf("no checks reported on %s yet", shortSHA(br.SHA)))
	case sum.Pending > 0:
		return runner.Poll(x.Now(), recheckCI, fmt.Sprintf("%d/%d checks passed, %d still running on %s",
			sum.Passed, sum.Total, sum.Pending, shortSHA(br.SHA)))
	}
	if err := updateRunData(ctx, x, func(d *runData) { d.GatedSHA = br.SHA }); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	return runner.Passed(fmt.Sprintf("%d/%d checks passed on %s", sum.Passed, sum.Total, shortSHA(br.SHA)))
}

// gateSteps are the steps whose verdict holds for one release head only.
var gateSteps = []string{stepCI, stepSoak, stepReview, stepChecklist}

// rewindGates sets the gates back to pending when the release head moved since they passed:
// the new commit has not been through CI, has not soaked, and was not reviewed. The approval
// is void, and so are the checklist items the bot ticked on the gates' evidence.
func (s *Service) rewindGates(ctx context.Context, x *runner.Exec, head string) runner.Result {
	var gated string
	var voided *approval
	if err := x.Update(ctx, func(r *store.Run) error {
		d, err := decodeData(*r)
		if err != nil {
			return err
		}
		gated, voided = d.GatedSHA, d.Approval
		for _, name := range gateSteps {
			if st := r.StepByName(name); st != nil {
				*st = store.Step{Name: name, State: store.StepPending}
			}
		}
		for _, it := range checklist {
			if t, ok := d.Checklist[it.ID]; ok && t.By == "" {
				delete(d.Checklist, it.ID)
			}
		}
		d.GatedSHA, d.Approval = "", nil
		return encodeData(r, d)
	}); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	note := fmt.Sprintf("⚠️ The release head moved to %s after the gates passed for %s; re-checking CI, soak and code review for %s.",
		shortSHA(head), shortSHA(gated), shortSHA(head))
	if voided != nil {
		note += fmt.Sprintf(" %s's approval of %s is void.", chat.User(voided.By), shortSHA(voided.SHA))
	}
	if err := s.postThread(ctx, x.Run(), "rewound:"+head, say("%s", note)); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	return runner.Rewound(fmt.Sprintf("the release head moved to %s; re-checking the gates", shortSHA(head)))
}

// checkSoak: the release head was deployed successfully to the soak environment long enough
// ago. A younger deployment wakes the run when it is due.
func (s *Service) checkSoak(ctx context.Context, x *runner.Exec) runner.Result {
	env := s.stepEnv(x.Run())
	if env.Soak == nil {
		return runner.Skipped("no soak required for " + env.Name)
	}
	br, _, err := s.refreshHead(ctx, x)
	if err != nil {
		return retryOrFail(x, err, "reading the release head")
	}
	soakEnv, want := env.Soak.Environment, env.Soak.Duration.Std()
	dep, err := s.opts.GitHub.LastSuccessfulDeployment(ctx, br.SHA, soakEnv)
	if err != nil {
		return retryOrFail(x, err, "reading the deployments of "+shortSHA(br.SHA))
	}
	if dep == nil {
		return runner.Blocked(x.Now().Add(recheckNoSoak), fmt.Sprintf("%s has not been deployed to %s yet; it must soak there for %s",
			shortSHA(br.SHA), soakEnv, chat.Duration(want)))
	}
	since := dep.LatestStatus.CreatedAt
	age := x.Now().Sub(since)
	if age >= want {
		return runner.Passed(fmt.Sprintf("deployed to %s %s ago", soakEnv, chat.Duration(age)))
	}
	due := since.Add(want)
	return runner.WaitUntil(due, fmt.Sprintf("deployed to %s %s ago — %s to go (due %s)",
		soakEnv, chat.Duration(age), chat.Duration(due.Sub(x.Now())), chat.Time(due)))
}

// checkReview: the pull request has an approving review and no outstanding change request.
func (s *Service) checkReview(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	sum, err := s.opts.GitHub.Reviews(ctx, d.PR)
	if err != nil {
		return retryOrFail(x, err, fmt.Sprintf("reading the reviews of PR #%d", d.PR))
	}
	pr := chat.Link(d.PRURL, fmt.Sprintf("PR #%d", d.PR))
	switch {
	case len(sum.ChangesRequestedBy) > 0:
		return runner.Blocked(x.Now().Add(recheckBlocked), fmt.Sprintf("changes requested on %s by %s",
			pr, strings.Join(sum.ChangesRequestedBy, ", ")))
	case len(sum.ApprovedBy) == 0:
		return runner.Poll(x.Now(), recheckReview, "waiting for an approving review on "+pr)
	}
	return runner.Passed("approved by " + strings.Join(sum.ApprovedBy, ", "))
}

// merge merges the release pull request with the approved head SHA, unless it is merged.
func (s *Service) merge(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	env := s.stepEnv(x.Run())
	if !env.Releases() {
		return runner.Skipped(fmt.Sprintf("%s deploys the release branch as it is; only a release environment merges and tags", env.Name))
	}
	if d.Approval == nil && env.Approval != "none" {
		return runner.Failed("no approval is recorded; refusing to merge")
	}
	expected := d.GatedSHA
	if d.Approval != nil {
		expected = d.Approval.SHA
	}
	sha, err := s.opts.GitHub.MergePullRequest(ctx, d.PR, expected, s.cfg.GitHub.MergeMethod, "Release "+d.Version)
	if errors.Is(err, gh.ErrHeadMoved) {
		// Pushed to between the approval and the merge: nothing was merged.
		br, err := s.opts.GitHub.Branch(ctx, d.Branch)
		if err != nil {
			return retryOrFail(x, err, "reading the release head")
		}
		return s.rewindGates(ctx, x, br.SHA)
	}
	if err != nil {
		return retryOrFail(x, err, fmt.Sprintf("merging PR #%d", d.PR))
	}
	if err := updateRunData(ctx, x, func(d *runData) { d.MergeSHA = sha }); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	return runner.Passed(fmt.Sprintf("PR #%d merged into %s as %s", d.PR, s.cfg.GitHub.MainBranch, shortSHA(sha)))
}

// tagAndRelease tags the merge commit (annotated) and publishes the GitHub release with the
// generated notes; both are found and kept when they exist, and a tag is never moved.
func (s *Service) tagAndRelease(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	if env := s.stepEnv(x.Run()); !env.Releases() {
		return runner.Skipped(fmt.Sprintf("%s deploys the release branch as it is; only a release environment merges and tags", env.Name))
	}
	if d.TaggedAt == nil {
		// Recorded before the push, as the dispatch time is: the run the push starts is looked
		// for from this time on, so a crash right after the push must not move it later. A
		// tag that is there already (a re-deploy) starts no run for us: noted, to dispatch.
		existing, err := s.opts.GitHub.Tag(ctx, d.Version)
		if err != nil && !errors.Is(err, gh.ErrNotFound) {
			return retryOrFail(x, err, "looking for tag "+d.Version)
		}
		now := x.Now()
		if err := updateRunData(ctx, x, func(d *runData) { d.TaggedAt, d.TagExisted = &now, existing != nil }); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
	}
	tag, err := s.opts.GitHub.CreateAnnotatedTag(ctx, d.Version, d.MergeSHA, "Release "+d.Version)
	if errors.Is(err, gh.ErrTagConflict) {
		return runner.Failed(fmt.Sprintf("tag %s already exists on another commit; I never move a tag — delete it or release a new version", d.Version))
	}
	if err != nil {
		return retryOrFail(x, err, "tagging "+d.Version)
	}
	if d.TagSHA == "" {
		if err := updateRunData(ctx, x, func(d *runData) { d.TagSHA = tag.SHA }); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
	}
	// CreateRelease keeps a release that exists. After a crash that followed publishing it the
	// notes are generated for nothing; that is rarer than asking twice, on every release,
	// whether it exists.
	name, notes, err := s.opts.GitHub.GenerateNotes(ctx, d.Version, d.MergeSHA, "")
	if err != nil {
		return retryOrFail(x, err, "generating release notes")
	}
	rel, err := s.opts.GitHub.CreateRelease(ctx, d.Version, name, notes)
	if err != nil {
		return retryOrFail(x, err, "publishing release "+d.Version)
	}
	if err := updateRunData(ctx, x, func(d *runData) { d.ReleaseURL = rel.URL }); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	return runner.Passed(fmt.Sprintf("%s tagged on %s · %s", d.Version, shortSHA(d.MergeSHA), chat.Link(rel.URL, "release published")))
}

// followWorkflow records the GitHub deployment, finds the production workflow's run (started
// by the tag push, or dispatched by opsbot), and follows it to the end, one thread reply per
// finished job.
func (s *Service) followWorkflow(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	run := x.Run()
	if d.DeploymentID == 0 {
		ref, _ := s.deployedRef(run, d)
		dep, err := s.opts.GitHub.CreateDeployment(ctx, ref, run.Env, fmt.Sprintf("%s by opsbot (run #%d)", run.Title, run.ID), fmt.Sprintf("opsbot-run-%d", run.ID))
		if err != nil {
			return retryOrFail(x, err, "recording the GitHub deployment")
		}
		if err := updateRunData(ctx, x, func(d *runData) { d.DeploymentID = dep.ID }); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
		d.DeploymentID = dep.ID
	}

	wf := s.cfg.GitHub.Workflow
	if d.WorkflowRunID == 0 {
		found, res, done := s.findWorkflowRun(ctx, x, &d)
		if done {
			return res
		}
		if err := s.opts.GitHub.SetDeploymentStatus(ctx, d.DeploymentID, "in_progress", found.URL, "production workflow running"); err != nil {
			return retryOrFail(x, err, "marking the deployment in progress")
		}
		if err := updateRunData(ctx, x, func(d *runData) { d.WorkflowRunID, d.WorkflowRunURL = found.ID, found.URL }); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
		d.WorkflowRunID, d.WorkflowRunURL = found.ID, found.URL
	}

	wr, err := s.opts.GitHub.WorkflowRun(ctx, d.WorkflowRunID)
	if err != nil {
		return retryOrFail(x, err, "reading the workflow run")
	}
	// The job list changes with every step of every job, so reading it on each poll would cost
	// a rate-limited call almost every time, while the run answers 304 as long as it is
	// unchanged. The jobs are read when the run changed, and at its end.
	var jobs []gh.Job
	if wr.Status == "completed" || d.WorkflowRunSeen == nil || !wr.UpdatedAt.Equal(*d.WorkflowRunSeen) {
		if jobs, err = s.opts.GitHub.WorkflowJobs(ctx, d.WorkflowRunID); err != nil {
			return retryOrFail(x, err, "reading the workflow's jobs")
		}
		if err := s.reportJobs(ctx, x, d, jobs); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
		if err := updateRunData(ctx, x, func(d *runData) { d.WorkflowRunSeen, d.JobCount = &wr.UpdatedAt, len(jobs) }); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
		if d, err = decodeData(x.Run()); err != nil {
			return runner.Failed(err.Error())
		}
	}
	link := chat.Link(wr.URL, fmt.Sprintf("%s run #%d", wf.File, wr.ID))
	if wr.Status != "completed" {
		return runner.Poll(x.Now(), recheckWorkflow, fmt.Sprintf("%s %s — %d/%d jobs done",
			link, strings.ReplaceAll(wr.Status, "_", " "), len(d.JobsReported), d.JobCount))
	}
	if wr.Conclusion != "success" {
		if err := s.opts.GitHub.SetDeploymentStatus(ctx, d.DeploymentID, "failure", wr.URL, "production workflow "+wr.Conclusion); err != nil {
			return retryOrFail(x, err, "marking the deployment failed")
		}
		return runner.Failed(fmt.Sprintf("%s %s%s", link, concluded(wr.Conclusion), failingJob(jobs)))
	}
	return runner.Passed(fmt.Sprintf("%s succeeded in %s", link, chat.Duration(wr.UpdatedAt.Sub(wr.CreatedAt))))
}

// deployedRef is what a run puts in the environment: the release tag on its merge commit,
// for an environment that does not release the release branch at the approved (or gated)
// head, and for a rollback the stable tag on its commit.
func (s *Service) deployedRef(run store.Run, d runData) (ref, sha string) {
	switch {
	case run.Kind == store.KindRollback:
		return d.Version, d.TagSHA
	case s.stepEnv(run).Releases():
		return d.Version, d.MergeSHA
	}
	if d.Approval != nil {
		return d.Branch, d.Approval.SHA
	}
	return d.Branch, d.GatedSHA
}

// findWorkflowRun finds the production workflow's run for this release. go-github returns no
// run ID on dispatch, so the run is found by workflow, head SHA, event and creation time; the
// dispatch time is recorded before dispatching, so a crash cannot dispatch twice.
func (s *Service) findWorkflowRun(ctx context.Context, x *runner.Exec, d *runData) (gh.WorkflowRun, runner.Result, bool) {
	wf := s.cfg.GitHub.Workflow
	q := gh.WorkflowRunQuery{Event: "push", HeadSHA: d.MergeSHA}
	since := x.Now()
	if d.TaggedAt != nil {
		since = *d.TaggedAt
	}
	// The tag push starts the workflow unless it is dispatched: by configuration, for a tag
	// that existed before this run (its push was long ago), and for an environment that
	// deploys the release branch rather than a tag.
	ref, sha := s.deployedRef(x.Run(), *d)
	if wf.Trigger == "dispatch" || d.TagExisted || ref == d.Branch {
		if d.DispatchedAt == nil {
			now := x.Now()
			if err := updateRunData(ctx, x, func(d *runData) { d.DispatchedAt = &now }); err != nil {
				return gh.WorkflowRun{}, runner.Retry(err, 5*time.Second), true
			}
			d.DispatchedAt = &now
			if err := s.opts.GitHub.DispatchWorkflow(ctx, wf.File, ref, map[string]any{wf.Input: d.Version}); err != nil {
				return gh.WorkflowRun{}, retryOrFail(x, err, "dispatching "+wf.File), true
			}
		}
		q.Event, q.HeadSHA, since = "workflow_dispatch", sha, *d.DispatchedAt
		if x.Run().Kind == store.KindRollback {
			// The stable tag's commit has runs already (its own deploy, earlier rollbacks to
			// it); the run's name, "Deploy <tag>", is what GitHub shows for this one.
			q.DisplayTitle = "Deploy " + d.Version
		}
	}
	q.CreatedAfter = since.Add(-time.Minute)
	found, err := s.opts.GitHub.FindWorkflowRun(ctx, wf.File, q)
	if err != nil {
		return gh.WorkflowRun{}, retryOrFail(x, err, "looking for the run of "+wf.File), true
	}
	if found == nil {
		if x.Now().Sub(since) > workflowStartBy {
			return gh.WorkflowRun{}, runner.Failed(fmt.Sprintf("no run of %s started for %s within %s of the %s",
				wf.File, d.Version, chat.Duration(workflowStartBy), map[string]string{"push": "tag push", "workflow_dispatch": "dispatch"}[q.Event])), true
		}
		return gh.WorkflowRun{}, runner.Poll(x.Now(), recheckWorkflow, fmt.Sprintf("waiting for %s to start for %s", wf.File, d.Version)), true
	}
	return *found, runner.Result{}, false
}

// reportJobs posts one thread reply per job as it completes (not per poll).
func (s *Service) reportJobs(ctx context.Context, x *runner.Exec, d runData, jobs []gh.Job) error {
	for _, j := range jobs {
		key := fmt.Sprint(j.ID)
		if j.Status != "completed" || d.JobsReported[key] {
			continue
		}
		icon := "✅"
		if j.Conclusion != "success" {
			icon = "❌"
		}
		text := fmt.Sprintf("%s Job %s %s in %s", icon, chat.Link(j.URL, j.Name), concluded(j.Conclusion), chat.Duration(j.CompletedAt.Sub(j.StartedAt)))
		if err := s.postThread(ctx, x.Run(), "job:"+key, chat.Text("%s", text)); err != nil {
			return err
		}
		if err := updateRunData(ctx, x, func(d *runData) {
			if d.JobsReported == nil {
				d.JobsReported = map[string]bool{}
			}
			d.JobsReported[key] = true
		}); err != nil {
			return err
		}
	}
	return nil
}

// concluded says a GitHub Actions conclusion as a verb.
func concluded(conclusion string) string {
	switch conclusion {
	case "success":
		return "succeeded"
	case "failure":
		return "failed"
	case "":
		return "ended"
	}
	return "was " + strings.ReplaceAll(conclusion, "_", " ")
}

func failingJob(jobs []gh.Job) string {
	for _, j := range jobs {
		if j.Status == "completed" && j.Conclusion != "success" {
			for _, st := range j.Steps {
				if st.Conclusion == "failure" {
					return fmt.Sprintf(": job %s, step %q", j.Name, st.Name)
				}
			}
			return ": job " + j.Name
		}
	}
	return ""
}
