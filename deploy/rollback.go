package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/config"
	gh "github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// Rollback steps, in order: find the stable tag, deploy it as the production workflow does, and
// verify it as a deploy is verified.
const stepStableTag = "stable_tag"

var rollbackSteps = []string{stepStableTag, stepWorkflow, stepVerification}

// The rollback buttons. actionRollback offers a rollback of the environment its value names; the
// incident domain shows it too, in incident channels.
const (
	actionRollback        = "deploy.rollback"
	actionRollbackConfirm = "deploy.rollback.confirm"
	actionRollbackCancel  = "deploy.rollback.cancel"
)

// historyDepth bounds how many past deploys and rollbacks of an environment a rollback reads:
// far more than any team goes back.
const historyDepth = 200

// rollbackOrigin is where a rollback run comes from: the version it replaces, the run that put
// that version there, and why its target was chosen. Auto marks a rollback opsbot started
// itself (auto_rollback).
type rollbackOrigin struct {
	Version string `json:"version"`
	RunID   int64  `json:"run_id"`
	Why     string `json:"why"`
	Auto    bool   `json:"auto,omitempty"`
}

// autoRollback is what came of auto_rollback after a deploy failed verification: the rollback
// run, or why there is none.
type autoRollback struct {
	RunID   int64  `json:"run_id,omitempty"`
	Version string `json:"version,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// deployment is a version that a deploy or rollback run put in an environment.
type deployment struct {
	runID    int64
	version  string
	by       string    // who requested the run ("" for opsbot)
	at       time.Time // when its workflow succeeded
	verified string    // how its verification ended; "" while running, or if it never ended
	failure  string    // what failed its verification
}

// stable reports whether the run proved its version healthy in the environment.
func (d deployment) stable() bool {
	return d.verified == verifiedPassed || d.verified == verifiedUnchecked
}

// history lists what deploys and rollbacks put in env, newest first: every run whose production
// workflow succeeded, verified or not.
func (s *Service) history(ctx context.Context, env string) ([]deployment, error) {
	var hist []deployment
	q := store.RunQuery{Kinds: []store.RunKind{store.KindDeploy, store.KindRollback}, Env: env, Limit: 100}
	for read := 0; read < historyDepth; {
		runs, err := s.opts.Store.ListRuns(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("reading the deploys of %s: %w", env, err)
		}
		for _, r := range runs {
			wf := r.StepByName(stepWorkflow)
			if wf == nil || wf.State != store.StepPassed {
				continue
			}
			d, err := decodeData(r)
			if err != nil {
				return nil, err
			}
			dep := deployment{runID: r.ID, version: d.Version, by: r.RequestedBy, at: r.CreatedAt, verified: d.Verified}
			if wf.FinishedAt != nil {
				dep.at = *wf.FinishedAt
			}
			if v := r.StepByName(stepVerification); d.Verified == verifiedFailed && v != nil {
				dep.failure = v.Detail
			}
			hist = append(hist, dep)
		}
		read += len(runs)
		if len(runs) < q.Limit {
			break
		}
		q.BeforeID = runs[len(runs)-1].ID
	}
	return hist, nil
}

// rollbackPlan is a rollback as it is offered: from what is deployed now to a stable version.
type rollbackPlan struct {
	env  string
	from deployment
	to   deployment
	why  string // why this target, in a few words
}

// chooseTarget picks what to roll env back to from its history (newest first): the version
// asked for, which must be stable there, or else the newest stable version older than the one
// deployed now. A version that ever failed verification in env is never chosen.
func chooseTarget(env string, hist []deployment, asked string) (rollbackPlan, error) {
	if len(hist) == 0 {
		return rollbackPlan{}, chat.Refuse("Nothing has been deployed to %s by opsbot yet, so there is nothing to roll back.", env)
	}
	now := hist[0]
	failed, stable := map[string]deployment{}, map[string]deployment{}
	for _, d := range hist {
		into := failed
		switch {
		case d.stable():
			into = stable
		case d.verified != verifiedFailed:
			continue
		}
		if _, seen := into[d.version]; !seen {
			into[d.version] = d // the newest run of each version
		}
	}
	var candidates []deployment
	for v, d := range stable {
		if _, bad := failed[v]; !bad && v != now.version {
			candidates = append(candidates, d)
		}
	}
	slices.SortFunc(candidates, func(a, b deployment) int { return compareVersions(b.version, a.version) })
	plan := rollbackPlan{env: env, from: now}
	if asked != "" {
		target, ok := stable[asked]
		switch f, bad := failed[asked]; {
		case asked == now.version:
			return rollbackPlan{}, chat.Refuse("%s is on %s already.", env, asked)
		case bad:
			return rollbackPlan{}, chat.Refuse("%s failed verification in %s (run #%d: %s); I never roll back to a version that failed verification.%s",
				asked, env, f.runID, f.failure, stableChoices(env, candidates))
		case !ok:
			return rollbackPlan{}, chat.Refuse("%s never passed verification in %s, so it is not a known good version there.%s",
				asked, env, stableChoices(env, candidates))
		}
		plan.to, plan.why = target, "the version you asked for; it "+provenBy(target)
		return plan, nil
	}
	for _, d := range candidates {
		if compareVersions(d.version, now.version) < 0 {
			plan.to, plan.why = d, "the newest version that "+provenBy(d)
			return plan, nil
		}
	}
	return rollbackPlan{}, chat.Refuse("No version older than %s passed verification in %s, so there is nothing to roll back to.%s",
		now.version, env, stableChoices(env, candidates))
}

// provenBy says how a stable deployment proved itself, and when and by whom it was made.
func provenBy(d deployment) string {
	how := "passed verification"
	if d.verified == verifiedUnchecked {
		how = "was deployed with no verification checks configured"
	}
	return fmt.Sprintf("%s (deployed %s by %s)", how, chat.Date(d.at), requesterOf(d.by))
}

// stableChoices names the stable versions there are, for a refusal to say what is possible.
func stableChoices(env string, candidates []deployment) string {
	if len(candidates) == 0 {
		return ""
	}
	versions := make([]string, 0, 5)
	for _, d := range candidates[:min(len(candidates), 5)] {
		versions = append(versions, d.version)
	}
	return fmt.Sprintf(" Stable versions in %s: %s.", env, strings.Join(versions, ", "))
}

// describeNow says how the version deployed now came out of its verification.
func describeNow(d deployment) string {
	switch d.verified {
	case verifiedFailed:
		return "failed verification: " + d.failure
	case verifiedPassed:
		return "verified"
	case verifiedUnchecked:
		return "deployed with no verification checks"
	}
	return "not verified: its verification did not finish"
}

// PromptRollback shows who a rollback of env (the default environment when empty) to version
// (the last stable one when empty), to confirm: from what, to what, and why that target. It
// is the answer to /rollback and to a Roll back button.
func (s *Service) PromptRollback(ctx context.Context, who chat.Actor, env, version string) (chat.Message, error) {
	envCfg, hist, err := s.rollbackHistory(ctx, who, env)
	if err != nil {
		return chat.Message{}, err
	}
	plan, err := chooseTarget(envCfg.Name, hist, version)
	if err != nil {
		return chat.Message{}, err
	}
	return renderRollbackPrompt(plan), nil
}

func renderRollbackPrompt(plan rollbackPlan) chat.Message {
	text := fmt.Sprintf("↩️ *Roll back %s?*\nNow: %s (%s)\nTo: %s — %s",
		plan.env, plan.from.version, describeNow(plan.from), plan.to.version, plan.why)
	value := fmt.Sprintf("%s:%s:%d", plan.env, plan.to.version, plan.from.runID)
	confirm := slack.NewButtonBlockElement(actionRollbackConfirm, value, chat.Plain("Confirm"))
	confirm.Style = slack.StyleDanger
	cancel := slack.NewButtonBlockElement(actionRollbackCancel, plan.env, chat.Plain("Cancel"))
	return chat.Message{
		Text: fmt.Sprintf("Roll back %s from %s to %s?", plan.env, plan.from.version, plan.to.version),
		Blocks: []slack.Block{
			slack.NewSectionBlock(chat.Mrkdwn(text), nil, nil),
			slack.NewActionBlock("rollback", confirm, cancel),
		},
	}
}

// rollbackHistory resolves env (the default environment when empty), checks that who may roll
// it back, and reads what deploys and rollbacks put in it: what a rollback target is chosen from.
func (s *Service) rollbackHistory(ctx context.Context, who chat.Actor, env string) (*config.Environment, []deployment, error) {
	envCfg, err := s.environment(env)
	if err != nil {
		return nil, nil, err
	}
	if err := s.mayRollBack(ctx, who, envCfg.Name); err != nil {
		return nil, nil, err
	}
	hist, err := s.history(ctx, envCfg.Name)
	if err != nil {
		return nil, nil, err
	}
	return envCfg, hist, nil
}

// mayRollBack refuses who unless they are a deployer or on call: a rollback is an emergency
// measure, so it needs no product owner.
func (s *Service) mayRollBack(ctx context.Context, who chat.Actor, env string) error {
	ok, err := s.hasAny(ctx, who.UserID, config.RoleDeployer, config.RoleOnCall)
	if err != nil {
		return err
	}
	if !ok {
		return chat.Refuse("Only %s or %s can roll back %s.",
			s.opts.Roles.Holders(config.RoleDeployer), s.opts.Roles.Holders(config.RoleOnCall), env)
	}
	return nil
}

// ConfirmRollback starts the rollback a confirmation's Confirm button names, once it is still
// what it was when it was offered: the same version deployed now, the same stable target.
func (s *Service) ConfirmRollback(ctx context.Context, who chat.Actor, value string) (chat.Message, error) {
	env, version, fromRun, ok := parseRollbackValue(value)
	if !ok {
		return chat.Message{}, chat.Refuse("That button is not one of mine.")
	}
	envCfg, hist, err := s.rollbackHistory(ctx, who, env)
	if err != nil {
		return chat.Message{}, err
	}
	// The target offered was the default one, or one asked for by name; either way it must
	// still be what chooseTarget allows.
	plan, err := chooseTarget(envCfg.Name, hist, "")
	if err != nil || plan.to.version != version {
		plan, err = chooseTarget(envCfg.Name, hist, version)
	}
	if err != nil {
		return chat.Message{}, err
	}
	if plan.from.runID != fromRun {
		return chat.Message{}, chat.Refuse("%s changed since this was offered: it is on %s now (run #%d). Ask again with /rollback %s.",
			envCfg.Name, plan.from.version, plan.from.runID, envCfg.Name)
	}
	run, err := s.startRollback(ctx, who.UserID, plan, "")
	var held *store.LockHeldError
	if errors.As(err, &held) {
		return chat.Message{}, s.lockRefusal(ctx, envCfg.Name, held.Lock)
	}
	if err != nil {
		return chat.Message{}, err
	}
	return say("Rolling %s back from %s to %s; follow it on the card in <#%s>.", envCfg.Name, plan.from.version, plan.to.version, run.Channel), nil
}

// parseRollbackValue reads a Confirm button's "ENV:VERSION:FROM_RUN".
func parseRollbackValue(v string) (env, version string, fromRun int64, ok bool) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", 0, false
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	return parts[0], parts[1], id, err == nil
}

// startRollback records a rollback run, which takes the environment's lock, and posts its card.
// requestedBy is "" when opsbot starts it; key makes starting it idempotent ("" for none).
func (s *Service) startRollback(ctx context.Context, requestedBy string, plan rollbackPlan, key string) (store.Run, error) {
	now := s.now()
	d := runData{
		Version: plan.to.version, Env: plan.env, TagExisted: true,
		RollbackOf: &rollbackOrigin{Version: plan.from.version, RunID: plan.from.runID, Why: plan.why, Auto: requestedBy == ""},
	}
	run := store.Run{
		Kind: store.KindRollback, Key: key, Env: plan.env, State: store.RunRunning, RequestedBy: requestedBy,
		Channel: s.cfg.Slack.DeploysChannel, Title: fmt.Sprintf("Roll back %s to %s", plan.env, plan.to.version),
		WakeAt: &now, LockName: envLock(plan.env), Steps: pendingSteps(rollbackSteps...),
	}
	if err := encodeData(&run, d); err != nil {
		return store.Run{}, err
	}
	run, err := s.opts.Store.CreateRun(ctx, run)
	if err != nil {
		return store.Run{}, fmt.Errorf("recording the rollback of %s to %s: %w", plan.env, plan.to.version, err)
	}
	if err := s.postCard(ctx, run); err != nil {
		return store.Run{}, err
	}
	s.opts.Wake()
	return run, nil
}

// autoRollBack starts the rollback of a deploy that failed verification in an environment with
// auto_rollback, once: the rollback's key names the deploy. It runs when the deploy's failure
// has been recorded, which released the environment's lock for the rollback to take.
func (s *Service) autoRollBack(ctx context.Context, run store.Run) error {
	if run.Kind != store.KindDeploy || run.State != store.RunFailed || !s.stepEnv(run).AutoRollback {
		return nil
	}
	d, err := decodeData(run)
	if err != nil || d.Verified != verifiedFailed || d.AutoRollback != nil {
		return err
	}
	var auto autoRollback
	hist, err := s.history(ctx, run.Env)
	if err != nil {
		return err
	}
	target, err := chooseTarget(run.Env, hist, "")
	if refusal, ok := chat.AsRefusal(err); ok {
		auto.Problem = refusal.Reason
	} else if err != nil {
		return err
	} else {
		key := fmt.Sprintf("rollback:after:%d", run.ID)
		rb, err := s.startRollback(ctx, "", target, key)
		var held *store.LockHeldError
		switch {
		case errors.Is(err, store.ErrDuplicateKey):
			if rb, err = s.opts.Store.GetRunByKey(ctx, key); err != nil {
				return fmt.Errorf("reading the automatic rollback of run %d: %w", run.ID, err)
			}
		case errors.As(err, &held):
			auto.Problem = fmt.Sprintf("%s was taken by run #%d in the meantime.", run.Env, held.Lock.RunID)
		case err != nil:
			return err
		}
		auto.RunID, auto.Version = rb.ID, target.to.version
	}
	run, _, err = updateData(ctx, s.opts.Store, run.ID, func(_ *store.Run, d *runData) error {
		d.AutoRollback = &auto
		return nil
	})
	if err != nil {
		return err
	}
	note := fmt.Sprintf("↩️ auto_rollback: rolling %s back to %s — see the rollback's card.", run.Env, auto.Version)
	if auto.RunID == 0 {
		note = fmt.Sprintf("⚠️ auto_rollback could not start a rollback: %s Roll back by hand if you can.", auto.Problem)
	}
	if err := s.postThread(ctx, run, "auto-rollback", say("%s", note)); err != nil {
		return err
	}
	return s.postCard(ctx, run)
}

// nextStable is the version a failed rollback of env would go back to next ("" when none).
func (s *Service) nextStable(ctx context.Context, env string) (string, error) {
	hist, err := s.history(ctx, env)
	if err != nil {
		return "", err
	}
	plan, err := chooseTarget(env, hist, "")
	if _, refused := chat.AsRefusal(err); refused {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return plan.to.version, nil
}

// rollbackWorkflow is the runner's view of a rollback run.
type rollbackWorkflow struct{ s *Service }

func (w rollbackWorkflow) Changed(ctx context.Context, run store.Run) error {
	return w.s.postCard(ctx, run)
}

func (w rollbackWorkflow) Steps(store.Run) []runner.Step {
	s := w.s
	return []runner.Step{
		{Name: stepStableTag, Run: s.checkStableTag},
		{Name: stepWorkflow, Run: s.followWorkflow},
		{Name: stepVerification, Run: s.verify},
	}
}

// checkStableTag finds the commit the stable version's tag marks; a tag is never moved, so it
// is the commit that passed verification.
func (s *Service) checkStableTag(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	tag, err := s.opts.GitHub.Tag(ctx, d.Version)
	if errors.Is(err, gh.ErrNotFound) {
		return runner.Failed(fmt.Sprintf("there is no tag %s in the repository; a rollback deploys a release's tag", d.Version))
	}
	if err != nil {
		return retryOrFail(x, err, "looking up tag "+d.Version)
	}
	if err := updateRunData(ctx, x, func(d *runData) { d.TagSHA = tag.SHA }); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	return runner.Passed(fmt.Sprintf("%s on %s — %s", d.Version, shortSHA(tag.SHA), d.RollbackOf.Why))
}
