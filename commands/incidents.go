package commands

import (
	"context"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/incident"
)

// Incidents serves /incident, the buttons and forms of incidents, and the pins in incident
// channels with the incident domain. What people typed is sanitized here, before the domain
// posts it anywhere.
type Incidents struct {
	Service *incident.Service
}

// Claims implements Domain.
func (Incidents) Claims(req Request) bool {
	switch req.(type) {
	case IncidentDeclare, IncidentUpdate, IncidentSeverity, IncidentPage, IncidentCommander, IncidentRole,
		IncidentResolve, IncidentFollowup, IncidentList, IncidentStatus:
		return true
	}
	return false
}

// Serve implements Domain: /incident declare without a title opens its form (with the
// command's trigger ID); the other commands act on the incident of the channel they are typed in.
func (i Incidents) Serve(ctx context.Context, who chat.Actor, req Request) (chat.Message, error) {
	svc := i.Service
	switch r := req.(type) {
	case IncidentDeclare:
		if r.Title == "" {
			return svc.PromptDeclare(ctx, who, who.TriggerID, int(r.Severity), r.Drill)
		}
		return svc.Declare(ctx, who, incident.Declaration{Severity: int(r.Severity), Title: r.Title.Sanitized(InertMentions), Drill: r.Drill})
	case IncidentList:
		return svc.List(ctx)
	case IncidentStatus:
		return svc.Status(ctx, who)
	}
	runID, err := svc.InChannel(ctx, who.ChannelID)
	if err != nil {
		return chat.Message{}, err
	}
	switch r := req.(type) {
	case IncidentUpdate:
		return svc.Update(ctx, who, runID, string(r.Phase), r.Message.Sanitized(InertMentions))
	case IncidentSeverity:
		return svc.SetSeverity(ctx, who, runID, int(r.Severity))
	case IncidentPage:
		return svc.Page(ctx, who, runID, r.UserID, r.Service)
	case IncidentCommander:
		return svc.SetCommander(ctx, who, runID, r.UserID)
	case IncidentRole:
		return svc.AssignRole(ctx, who, runID, r.Role, r.UserID)
	case IncidentResolve:
		return svc.Resolve(ctx, who, runID, r.Summary.Sanitized(InertMentions))
	case IncidentFollowup:
		return svc.Followup(ctx, who, runID, r.Text.Sanitized(InertMentions))
	}
	return chat.Message{}, chat.Refuse("That is not an incident command.")
}

// ClaimsAction implements Domain.
func (Incidents) ClaimsAction(actionID string) bool { return incident.OwnsAction(actionID) }

// Click implements Domain.
func (i Incidents) Click(ctx context.Context, who chat.Actor, c Click) (chat.Message, error) {
	return i.Service.Click(ctx, who, c.ActionID, c.Value, c.TriggerID)
}

// ClaimsView implements Domain.
func (Incidents) ClaimsView(callbackID string) bool { return incident.OwnsView(callbackID) }

// Submit implements Domain.
func (i Incidents) Submit(ctx context.Context, who chat.Actor, sub Submission) (chat.Message, error) {
	values := make(map[string]string, len(sub.Values))
	for field, v := range sub.Values {
		values[field] = Sanitize(v, InertMentions)
	}
	return i.Service.Submit(ctx, who, incident.Form{CallbackID: sub.CallbackID, Metadata: sub.PrivateMetadata, Values: values})
}

// HandleEvent implements EventHandler: a pinned message, or one given a :pushpin:, in an
// incident channel joins its timeline.
func (i Incidents) HandleEvent(ctx context.Context, ev Event) error {
	switch {
	case ev.Type == "pin_added", ev.Type == "reaction_added" && ev.Reaction == "pushpin":
		if ev.ItemTS == "" {
			return nil
		}
		return i.Service.RecordMark(ctx, incident.Mark{ChannelID: ev.ChannelID, TS: ev.ItemTS, By: ev.UserID})
	}
	return nil
}
