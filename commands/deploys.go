package commands

import (
	"context"
	"strconv"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/deploy"
)

// Deploys serves /release, /deploy, /rollback and the deploy cards' buttons with the deploy
// domain.
type Deploys struct {
	Service *deploy.Service
}

// Claims implements Domain.
func (Deploys) Claims(req Request) bool {
	switch req.(type) {
	case ReleaseCreate, ReleaseStatus, DeployStart, DeployStatus, DeployHistory, DeployCancel, RollbackStart:
		return true
	}
	return false
}

// Serve implements Domain.
func (d Deploys) Serve(ctx context.Context, who chat.Actor, req Request) (chat.Message, error) {
	switch r := req.(type) {
	case ReleaseCreate:
		return d.Service.StartRelease(ctx, who, string(r.Version))
	case ReleaseStatus:
		return d.Service.ReleaseStatus(ctx, string(r.Version))
	case DeployStart:
		return d.Service.StartDeploy(ctx, who, string(r.Version), r.Env)
	case DeployStatus:
		return d.Service.Status(ctx)
	case DeployHistory:
		return d.Service.History(ctx, r.Env)
	case DeployCancel:
		return d.Service.Cancel(ctx, who, r.Env)
	case RollbackStart:
		return d.Service.PromptRollback(ctx, who, r.Env, string(r.Version))
	}
	return chat.Message{}, chat.Refuse("That is not a deploy command.")
}

// ClaimsAction implements Domain.
func (Deploys) ClaimsAction(actionID string) bool { return deploy.OwnsAction(actionID) }

// Click implements Domain.
func (d Deploys) Click(ctx context.Context, who chat.Actor, c Click) (chat.Message, error) {
	switch c.ActionID {
	case "deploy.approve":
		return d.Service.Approve(ctx, who, c.Value)
	case "deploy.reject":
		return d.Service.PromptReject(ctx, who, c.Value, c.TriggerID)
	case "deploy.check":
		runID, item, ok := splitRunValue(c.Value)
		if !ok {
			return chat.Message{}, chat.Refuse("That button is not one of mine.")
		}
		return d.Service.Tick(ctx, who, runID, item)
	case "deploy.cancel":
		runID, err := strconv.ParseInt(c.Value, 10, 64)
		if err != nil {
			return chat.Message{}, chat.Refuse("That button is not one of mine.")
		}
		return d.Service.CancelRun(ctx, who, runID)
	case "deploy.rollback":
		return d.Service.PromptRollback(ctx, who, c.Value, "")
	case "deploy.rollback.confirm":
		return d.Service.ConfirmRollback(ctx, who, c.Value)
	case "deploy.rollback.cancel":
		return chat.Text("Nothing was rolled back."), nil
	}
	return chat.Message{}, chat.Refuse("That button is not one of mine.")
}

// ClaimsView implements Domain.
func (Deploys) ClaimsView(callbackID string) bool { return deploy.OwnsView(callbackID) }

// Submit implements Domain.
func (d Deploys) Submit(ctx context.Context, who chat.Actor, sub Submission) (chat.Message, error) {
	if sub.CallbackID == "deploy.reject" {
		return d.Service.Reject(ctx, who, sub.PrivateMetadata, sub.Values["reason"])
	}
	return chat.Message{}, chat.Refuse("That form is not one of mine.")
}

// splitRunValue reads a "RUNID:ITEM" button value.
func splitRunValue(v string) (int64, string, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] == ':' {
			id, err := strconv.ParseInt(v[:i], 10, 64)
			return id, v[i+1:], err == nil && i+1 < len(v)
		}
	}
	return 0, "", false
}
