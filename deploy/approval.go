package deploy

import (
	"context"
	"errors"
	"fmt"
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

// Action and view IDs the deploy domain owns.
const (
	actionApprove  = "deploy.approve"
	actionReject   = "deploy.reject"
	actionCheck    = "deploy.check"
	actionCancel   = "deploy.cancel"
	viewReject     = "deploy.reject"
	rejectReasonID = "reason"
)

// OwnsAction reports whether a button belongs to this domain.
func OwnsAction(actionID string) bool { return strings.HasPrefix(actionID, "deploy.") }

// OwnsView reports whether a modal belongs to this domain.
func OwnsView(callbackID string) bool { return strings.HasPrefix(callbackID, "deploy.") }

// checkApproval asks the approving role for an approval bound to the release head's SHA and
// passes once one is recorded for the SHA that is still the head. If the head moves, the
// approval is void and asked for again.
func (s *Service) checkApproval(ctx context.Context, x *runner.Exec) runner.Result {
	env := s.stepEnv(x.Run())
	if env.Approval == "none" {
		return runner.Skipped("no approval required for " + env.Name)
	}
	br, d, err := s.refreshHead(ctx, x)
	if err != nil {
		return retryOrFail(x, err, "reading the release head")
	}
	if d.GatedSHA != "" && br.SHA != d.GatedSHA {
		return s.rewindGates(ctx, x, br.SHA)
	}
	if d.Approval != nil && d.Approval.SHA == br.SHA {
		if err := s.postThread(ctx, x.Run(), fmt.Sprintf("approved:%d", d.ApprovalRequest.Seq), say("✅ Approved by %s for %s (%s) %s.",
			chat.User(d.Approval.By), d.Version, shortSHA(br.SHA), chat.Time(d.Approval.At))); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
		return runner.Passed(fmt.Sprintf("approved by %s for %s", chat.User(d.Approval.By), shortSHA(br.SHA)))
	}

	var voided *approval
	var superseded *approvalRequest
	if d.ApprovalRequest == nil || d.ApprovalRequest.SHA != br.SHA {
		now := x.Now()
		if err := updateRunData(ctx, x, func(d *runData) {
			superseded, voided = d.ApprovalRequest, d.Approval
			seq := 1
			if d.ApprovalRequest != nil {
				seq = d.ApprovalRequest.Seq + 1
			}
			d.ApprovalRequest = &approvalRequest{SHA: br.SHA, Seq: seq, At: now}
			d.Approval = nil
		}); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
		if d, err = decodeData(x.Run()); err != nil {
			return runner.Failed(err.Error())
		}
	}
	run := x.Run()
	if superseded != nil {
		// The old request's buttons go; its message says why.
		if err := s.upsertThread(ctx, run, fmt.Sprintf("approval:%d", superseded.Seq), say("~Approval requested for %s~ — the release head moved to %s; see the new request below.",
			shortSHA(superseded.SHA), shortSHA(br.SHA))); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
		if voided != nil {
			if err := s.postThread(ctx, run, fmt.Sprintf("voided:%d", superseded.Seq), say("⚠️ The release head moved to %s after %s approved %s; the approval is void. %s, please approve again.",
				shortSHA(br.SHA), chat.User(voided.By), shortSHA(voided.SHA), s.opts.Roles.Holders(env.Approval))); err != nil {
				return runner.Retry(err, 5*time.Second)
			}
		}
	}
	if err := s.upsertThread(ctx, run, fmt.Sprintf("approval:%d", d.ApprovalRequest.Seq), s.renderApprovalRequest(run, d, env)); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	// Waiting on a person, but the head is re-read now and then: a push voids the request.
	return runner.WaitForPerson(fmt.Sprintf("waiting for %s to approve %s", s.opts.Roles.Holders(env.Approval), shortSHA(br.SHA))).
		RecheckAt(x.Now().Add(recheckHead))
}

func (s *Service) renderApprovalRequest(run store.Run, d runData, env *config.Environment) chat.Message {
	req := d.ApprovalRequest
	text := fmt.Sprintf("%s %s (%s) is ready for %s. Requested by %s.",
		s.opts.Roles.Holders(env.Approval), d.Version, shortSHA(req.SHA), env.Name, chat.User(run.RequestedBy))
	value := fmt.Sprintf("%d:%s:%d", run.ID, req.SHA, req.Seq)
	approve := slack.NewButtonBlockElement(actionApprove, value, chat.Plain("Approve"))
	approve.Style = slack.StylePrimary
	approve.Confirm = slack.NewConfirmationBlockObject(
		chat.Plain("Approve this deploy?"),
		chat.Mrkdwn(fmt.Sprintf("Deploy *%s* (%s, %s) to *%s*.", d.Version, shortSHA(req.SHA), d.Branch, env.Name)),
		chat.Plain("Approve "+d.Version), chat.Plain("Not yet"))
	reject := slack.NewButtonBlockElement(actionReject, value, chat.Plain("Reject"))
	reject.Style = slack.StyleDanger
	return chat.Message{
		Text: text,
		Blocks: []slack.Block{
			slack.NewSectionBlock(chat.Mrkdwn(text), nil, nil),
			slack.NewActionBlock("approval", approve, reject),
		},
	}
}

// approvalTarget is what an Approve or Reject button names: a run, the SHA the person saw,
// and which request it was. None of it is trusted; it is compared with the stored run.
type approvalTarget struct {
	runID int64
	sha   string
	seq   int
}

func parseApprovalValue(v string) (approvalTarget, error) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return approvalTarget{}, chat.Refuse("That button is not one of mine.")
	}
	id, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || parts[1] == "" {
		return approvalTarget{}, chat.Refuse("That button is not one of mine.")
	}
	return approvalTarget{runID: id, sha: parts[1], seq: seq}, nil
}

// authorizeApproval checks, against the stored run, that who may approve or reject it now.
func (s *Service) authorizeApproval(ctx context.Context, who chat.Actor, run store.Run, d runData, t approvalTarget, verb string) error {
	if run.Kind != store.KindDeploy {
		return chat.Refuse("That button is not one of mine.")
	}
	st := run.StepByName(stepApproval)
	if run.State.Final() || st == nil || st.State != store.StepWaiting {
		return chat.Refuse("This deploy is not waiting for approval (it is %s).", describeState(run))
	}
	env := s.stepEnv(run)
	ok, err := s.opts.Roles.Has(ctx, who.UserID, env.Approval)
	if err != nil {
		return fmt.Errorf("checking the %s role: %w", env.Approval, err)
	}
	if !ok {
		return chat.Refuse("Only %s can %s deploys to %s.", s.opts.Roles.Holders(env.Approval), verb, env.Name)
	}
	if verb == "approve" && who.UserID == run.RequestedBy {
		return chat.Refuse("You requested this deploy; someone else must approve it.")
	}
	switch req := d.ApprovalRequest; {
	case req == nil:
		return chat.Refuse("This deploy is not waiting for approval (it is %s).", describeState(run))
	case t.seq < req.Seq:
		return chat.Refuse("The release head moved to %s after this request; please %s the new request in the thread.", shortSHA(req.SHA), verb)
	case t.seq != req.Seq || t.sha != req.SHA:
		return chat.Refuse("That button does not match the approval request of this deploy; use the buttons in its thread.")
	}
	return nil
}

// Approve records who's approval of a deploy for the SHA their button showed.
func (s *Service) Approve(ctx context.Context, who chat.Actor, value string) (chat.Message, error) {
	t, err := parseApprovalValue(value)
	if err != nil {
		return chat.Message{}, err
	}
	now := s.now()
	var repeated bool
	run, d, err := updateNamedRun(ctx, s.opts.Store, t.runID, func(r *store.Run, d *runData) error {
		if d.Approval != nil && d.Approval.SHA == t.sha && d.Approval.By == who.UserID {
			repeated = true // a double click: the first one counted
			return nil
		}
		if err := s.authorizeApproval(ctx, who, *r, *d, t, "approve"); err != nil {
			return err
		}
		d.Approval = &approval{By: who.UserID, At: now, SHA: t.sha}
		r.WakeAt = &now
		return nil
	})
	if err != nil {
		return chat.Message{}, err
	}
	if repeated {
		return say("You already approved %s (%s); it counts once.", d.Version, shortSHA(t.sha)), nil
	}
	s.opts.Wake()
	return say("You approved %s (%s) for %s.", d.Version, shortSHA(t.sha), run.Env), nil
}

// PromptReject opens the modal that asks a product owner why they reject a deploy.
func (s *Service) PromptReject(ctx context.Context, who chat.Actor, value, triggerID string) (chat.Message, error) {
	t, err := parseApprovalValue(value)
	if err != nil {
		return chat.Message{}, err
	}
	run, err := s.opts.Store.GetRun(ctx, t.runID)
	if err != nil {
		return chat.Message{}, chat.Refuse("That deploy does not exist.")
	}
	d, err := decodeData(run)
	if err != nil {
		return chat.Message{}, err
	}
	if err := s.authorizeApproval(ctx, who, run, d, t, "reject"); err != nil {
		return chat.Message{}, err
	}
	if s.opts.Modals == nil {
		return chat.Message{}, errors.New("no modal opener is configured")
	}
	input := slack.NewInputBlock(rejectReasonID, chat.Plain("Why is it rejected?"), nil,
		slack.NewPlainTextInputBlockElement(chat.Plain("e.g. wait until the marketing launch is over"), rejectReasonID))
	input.Element.(*slack.PlainTextInputBlockElement).Multiline = true
	view := slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: viewReject, PrivateMetadata: value,
		Title:  chat.Plain("Reject " + d.Version),
		Submit: chat.Plain("Reject"), Close: chat.Plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(chat.Mrkdwn(fmt.Sprintf("Reject the deploy of *%s* (%s) to *%s*? It ends the run; %s is told why.",
				d.Version, shortSHA(t.sha), run.Env, chat.User(run.RequestedBy))), nil, nil),
			input,
		}},
	}
	if _, err := s.opts.Modals.OpenModal(ctx, triggerID, view); err != nil {
		return chat.Message{}, err
	}
	return chat.Message{}, nil
}

// Reject ends a deploy that who rejected, with their reason.
func (s *Service) Reject(ctx context.Context, who chat.Actor, value, reason string) (chat.Message, error) {
	t, err := parseApprovalValue(value)
	if err != nil {
		return chat.Message{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return chat.Message{}, chat.Refuse("Say why you reject the deploy.")
	}
	now := s.now()
	run, d, err := updateNamedRun(ctx, s.opts.Store, t.runID, func(r *store.Run, d *runData) error {
		if err := s.authorizeApproval(ctx, who, *r, *d, t, "reject"); err != nil {
			return err
		}
		d.Rejection = &rejection{By: who.UserID, At: now, Reason: reason}
		st := r.StepByName(stepApproval)
		st.State, st.Detail, st.FinishedAt = store.StepFailed, "rejected by "+chat.User(who.UserID), &now
		r.State, r.WakeAt = store.RunFailed, &now // the runner tells of the end too, should this process die first
		return nil
	})
	if err != nil {
		return chat.Message{}, err
	}
	if err := s.postThread(ctx, run, "rejected", say("🛑 %s rejected the deploy of %s: %s", chat.User(who.UserID), d.Version, chat.Escape(reason))); err != nil {
		return chat.Message{}, err
	}
	if err := s.upsertThread(ctx, run, fmt.Sprintf("approval:%d", t.seq), say("Approval requested for %s — rejected by %s.", shortSHA(t.sha), chat.User(who.UserID))); err != nil {
		return chat.Message{}, err
	}
	if err := s.postCard(ctx, run); err != nil {
		return chat.Message{}, err
	}
	return say("You rejected %s; %s has been told why.", d.Version, chat.User(run.RequestedBy)), nil
}

// Cancel cancels the active deploy to env (the default when empty), stopping its workflow run
// if one was started.
func (s *Service) Cancel(ctx context.Context, who chat.Actor, env string) (chat.Message, error) {
	envCfg, err := s.environment(env)
	if err != nil {
		return chat.Message{}, err
	}
	lock, err := s.opts.Store.GetLock(ctx, envLock(envCfg.Name))
	if errors.Is(err, store.ErrNotFound) {
		return chat.Message{}, chat.Refuse("Nothing is being deployed to %s.", envCfg.Name)
	}
	if err != nil {
		return chat.Message{}, fmt.Errorf("reading the lock of %s: %w", envCfg.Name, err)
	}
	return s.CancelRun(ctx, who, lock.RunID)
}

// CancelRun cancels a deploy run (the card's Cancel button, or /deploy cancel).
func (s *Service) CancelRun(ctx context.Context, who chat.Actor, runID int64) (chat.Message, error) {
	if ok, err := s.opts.Roles.Has(ctx, who.UserID, config.RoleDeployer); err != nil {
		return chat.Message{}, err
	} else if !ok {
		return chat.Message{}, chat.Refuse("Only %s can cancel a deploy.", s.opts.Roles.Holders(config.RoleDeployer))
	}
	now := s.now()
	run, d, err := updateNamedRun(ctx, s.opts.Store, runID, func(r *store.Run, d *runData) error {
		if r.Kind != store.KindDeploy && r.Kind != store.KindRollback {
			return chat.Refuse("That is not a deploy.")
		}
		if r.State.Final() {
			return chat.Refuse("%s is already over (%s).", r.Title, describeState(*r))
		}
		d.CancelledBy = who.UserID
		r.State, r.WakeAt = store.RunCancelled, &now // the runner tells of the end too, should this process die first
		return nil
	})
	if err != nil {
		return chat.Message{}, err
	}
	// The run is cancelled in the store first; stopping GitHub's work follows and is
	// idempotent, so a failure here is reported but changes nothing recorded.
	var problems []string
	workflowRun := d.WorkflowRunID
	if workflowRun == 0 && (d.TaggedAt != nil || d.DispatchedAt != nil) {
		// Tagged or dispatched, but the run was not recorded yet: it may be running anyway.
		var q gh.WorkflowRunQuery
		if d.DispatchedAt != nil {
			q = gh.WorkflowRunQuery{Event: "workflow_dispatch", CreatedAfter: d.DispatchedAt.Add(-time.Minute)}
		} else {
			q = gh.WorkflowRunQuery{Event: "push", HeadSHA: d.MergeSHA, CreatedAfter: d.TaggedAt.Add(-time.Minute)}
		}
		if found, err := s.opts.GitHub.FindWorkflowRun(ctx, s.cfg.GitHub.Workflow.File, q); err != nil {
			problems = append(problems, "looking for the workflow run failed: "+err.Error())
		} else if found != nil {
			workflowRun = found.ID
		}
	}
	if workflowRun != 0 {
		if err := s.opts.GitHub.CancelWorkflowRun(ctx, workflowRun); err != nil {
			problems = append(problems, "cancelling the workflow run failed: "+err.Error())
		}
	}
	if d.DeploymentID != 0 {
		if err := s.opts.GitHub.SetDeploymentStatus(ctx, d.DeploymentID, "failure", d.WorkflowRunURL, "cancelled by "+who.UserName); err != nil {
			problems = append(problems, "marking the GitHub deployment failed: "+err.Error())
		}
	}
	if err := s.postCard(ctx, run); err != nil {
		return chat.Message{}, err
	}
	if err := s.postThread(ctx, run, "cancelled", say("⏹ Cancelled by %s %s.", chat.User(who.UserID), chat.Time(now))); err != nil {
		return chat.Message{}, err
	}
	if len(problems) > 0 {
		return say("Cancelled %s, but: %s", run.Title, strings.Join(problems, "; ")), nil
	}
	return say("Cancelled %s.", run.Title), nil
}
