package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opsbot-dev/opsbot/chat"
	gh "github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// Release steps, in order.
const (
	stepBranch      = "branch"
	stepPullRequest = "pull_request"
	stepCommits     = "commits"
)

// StartRelease starts the release of version: a run that cuts release/vX.Y.Z from develop and
// opens its pull request into main. Asking again for the same version shows the release that
// exists instead of creating anything twice.
func (s *Service) StartRelease(ctx context.Context, who chat.Actor, version string) (chat.Message, error) {
	if existing, err := s.opts.Store.GetRunByKey(ctx, s.releaseKey(version)); err == nil {
		return s.describeRelease(existing)
	} else if !errors.Is(err, store.ErrNotFound) {
		return chat.Message{}, fmt.Errorf("looking for release %s: %w", version, err)
	}

	latest, err := s.opts.GitHub.LatestReleaseTag(ctx)
	if err != nil {
		return chat.Message{}, fmt.Errorf("reading the newest release tag: %w", err)
	}
	if latest != "" && compareVersions(version, latest) <= 0 {
		return chat.Message{}, chat.Refuse("%s is not newer than the newest release, %s. Pick a higher version, e.g. %s.",
			version, latest, nextPatch(latest))
	}

	now := s.now()
	d := runData{Version: version, Branch: s.branchFor(version), PreviousTag: latest}
	run := store.Run{
		Kind: store.KindRelease, Key: s.releaseKey(version), State: store.RunRunning,
		RequestedBy: who.UserID, Channel: s.cfg.Slack.DeploysChannel, Title: "Release " + version,
		WakeAt: &now, Steps: pendingSteps(stepBranch, stepPullRequest, stepCommits),
	}
	if err := encodeData(&run, d); err != nil {
		return chat.Message{}, err
	}
	run, err = s.opts.Store.CreateRun(ctx, run)
	if errors.Is(err, store.ErrDuplicateKey) {
		// Someone else started the same release a moment ago.
		existing, err := s.opts.Store.GetRunByKey(ctx, s.releaseKey(version))
		if err != nil {
			return chat.Message{}, fmt.Errorf("reading release %s: %w", version, err)
		}
		return s.describeRelease(existing)
	}
	if err != nil {
		return chat.Message{}, fmt.Errorf("recording release %s: %w", version, err)
	}
	if err := s.postCard(ctx, run); err != nil {
		return chat.Message{}, err
	}
	s.opts.Wake()
	return say("Starting release %s: cutting %s from %s. The card is in <#%s>.",
		version, d.Branch, s.cfg.GitHub.DevelopBranch, s.cfg.Slack.DeploysChannel), nil
}

// describeRelease answers a second /release for the same version.
func (s *Service) describeRelease(run store.Run) (chat.Message, error) {
	d, err := decodeData(run)
	if err != nil {
		return chat.Message{}, err
	}
	where := fmt.Sprintf("branch %s", d.Branch)
	if d.PRURL != "" {
		where += fmt.Sprintf(", %s", chat.Link(d.PRURL, fmt.Sprintf("PR #%d", d.PR)))
	}
	return say("Release %s already exists (%s; started by %s %s, %s). Nothing new was created; its card is in <#%s>.",
		d.Version, where, chat.User(run.RequestedBy), chat.Date(run.CreatedAt), describeState(run), run.Channel), nil
}

func pendingSteps(names ...string) []store.Step {
	steps := make([]store.Step, len(names))
	for i, n := range names {
		steps[i] = store.Step{Name: n, State: store.StepPending}
	}
	return steps
}

// releaseWorkflow is the runner's view of a release run.
type releaseWorkflow struct{ s *Service }

func (w releaseWorkflow) Changed(ctx context.Context, run store.Run) error {
	return w.s.postCard(ctx, run)
}

func (w releaseWorkflow) Steps(store.Run) []runner.Step {
	s := w.s
	return []runner.Step{
		{Name: stepBranch, Run: s.cutBranch},
		{Name: stepPullRequest, Run: s.openPullRequest},
		{Name: stepCommits, Run: s.listCommits},
	}
}

// cutBranch creates release/vX.Y.Z at develop's head, unless it exists (CreateBranch looks
// for it first and keeps it as it is).
func (s *Service) cutBranch(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	develop, err := s.opts.GitHub.Branch(ctx, s.cfg.GitHub.DevelopBranch)
	if err != nil {
		return retryOrFail(x, err, "reading "+s.cfg.GitHub.DevelopBranch)
	}
	br, err := s.opts.GitHub.CreateBranch(ctx, d.Branch, develop.SHA)
	if err != nil {
		return retryOrFail(x, err, "creating "+d.Branch)
	}
	how := fmt.Sprintf("cut from %s at %s", s.cfg.GitHub.DevelopBranch, shortSHA(develop.SHA))
	if br.SHA != develop.SHA {
		how = "already there, at " + shortSHA(br.SHA)
	}
	return s.recordBranch(ctx, x, br, how)
}

func (s *Service) recordBranch(ctx context.Context, x *runner.Exec, br gh.Branch, how string) runner.Result {
	if err := updateRunData(ctx, x, func(d *runData) { d.BranchSHA = br.SHA }); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	return runner.Passed(fmt.Sprintf("%s (%s)", br.Name, how))
}

// openPullRequest opens release/vX.Y.Z → main with GitHub's generated release notes, unless
// such a pull request is open already.
func (s *Service) openPullRequest(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	pr, err := s.opts.GitHub.FindPullRequest(ctx, d.Branch, s.cfg.GitHub.MainBranch)
	if err != nil {
		return retryOrFail(x, err, "looking for the release pull request")
	}
	if pr == nil || pr.State != "open" {
		_, notes, err := s.opts.GitHub.GenerateNotes(ctx, d.Version, d.Branch, d.PreviousTag)
		if err != nil {
			return retryOrFail(x, err, "generating release notes")
		}
		opened, err := s.opts.GitHub.OpenPullRequest(ctx, d.Branch, s.cfg.GitHub.MainBranch, "Release "+d.Version, notes)
		if err != nil {
			return retryOrFail(x, err, "opening the release pull request")
		}
		pr = &opened
	}
	if err := updateRunData(ctx, x, func(d *runData) { d.PR, d.PRURL = pr.Number, pr.URL }); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	return runner.Passed(fmt.Sprintf("%s into %s, with generated release notes",
		chat.Link(pr.URL, fmt.Sprintf("PR #%d", pr.Number)), s.cfg.GitHub.MainBranch))
}

// listCommits records what the release carries, for the card.
func (s *Service) listCommits(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	cmp, err := s.opts.GitHub.Compare(ctx, s.cfg.GitHub.MainBranch, d.Branch)
	if err != nil {
		return retryOrFail(x, err, "comparing "+d.Branch+" with "+s.cfg.GitHub.MainBranch)
	}
	const shown = 10
	var commits []commit
	for i, c := range cmp.Commits {
		if i == shown {
			break
		}
		commits = append(commits, commit{SHA: c.SHA, Message: c.Message, Author: c.Author})
	}
	if err := updateRunData(ctx, x, func(d *runData) { d.Commits, d.CommitCount = commits, cmp.AheadBy }); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	return runner.Passed(fmt.Sprintf("%d %s ahead of %s", cmp.AheadBy, plural(cmp.AheadBy, "commit", "commits"), s.cfg.GitHub.MainBranch))
}

// updateRunData records a change to the run's data from inside a step.
func updateRunData(ctx context.Context, x *runner.Exec, change func(*runData)) error {
	return runner.UpdateRecord(ctx, x, change)
}

// retryOrFail turns a GitHub error into the step's result: transient errors are retried after
// the wait GitHub asked for (or a backoff); anything else fails the step with what was being done.
func retryOrFail(x *runner.Exec, err error, doing string) runner.Result {
	if wait, ok := gh.RetryAfter(err); ok {
		return runner.Retry(fmt.Errorf("%s: %w", doing, err), max(wait, backoff(attempts(x))))
	}
	return runner.Failed(fmt.Sprintf("%s failed: %v", doing, err))
}

// attempts counts the step's tries that ended in a transient error.
func attempts(x *runner.Exec) int {
	if st := x.Run().StepByName(x.StepName()); st != nil {
		return st.Attempts
	}
	return 0
}

// backoff grows from 5 s to 5 min as a step keeps failing.
func backoff(attempts int) time.Duration {
	return min(5*time.Second<<min(attempts, 6), 5*time.Minute)
}
