package incident

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/integrations/pagerduty"
	"github.com/opsbot-dev/opsbot/integrations/statuspage"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// respond is the incident while it runs. Commands record what people asked for (an update, a
// new severity, a page, an OK to publish) and wake the run; this step carries it out against
// Slack, PagerDuty and the status page, reminds a silent commander, and sleeps until the next
// reminder or command. It passes once the incident is resolved.
func (s *Service) respond(ctx context.Context, x *runner.Exec) runner.Result {
	for round := 0; ; round++ {
		d, err := decodeData(x.Run())
		if err != nil {
			return runner.Failed(err.Error())
		}
		if res, stop := s.reconcile(ctx, x); stop {
			return res
		}
		// A command may have left more work while this one ran; look again before sleeping.
		current, err := s.opts.Store.GetRun(ctx, x.Run().ID)
		if err != nil {
			return retryStore(err)
		}
		fresh, err := decodeData(current)
		if err != nil {
			return runner.Failed(err.Error())
		}
		if fresh.Rev == d.Rev || round == 3 {
			break
		}
		if err := x.Update(ctx, func(*store.Run) error { return nil }); err != nil { // to work on the fresh record
			return retryStore(err)
		}
	}
	// Everything asked for is done: the next error starts its retries afresh.
	if st := x.Run().StepByName(x.StepName()); st != nil && st.Attempts > 0 {
		if err := x.Update(ctx, func(r *store.Run) error { r.StepByName(x.StepName()).Attempts = 0; return nil }); err != nil {
			return retryStore(err)
		}
	}
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	if r := d.Resolution; r != nil {
		return runner.Passed(fmt.Sprintf("resolved by %s %s after %s", chat.User(r.By), chat.Time(r.At), chat.Duration(r.At.Sub(d.DeclaredAt))))
	}
	return s.remind(ctx, x, d)
}

// reconcile carries out what the incident's record asks for and has not been done. It stops
// (with the step's result) on an error worth retrying.
func (s *Service) reconcile(ctx context.Context, x *runner.Exec) (runner.Result, bool) {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error()), true
	}
	if err := s.syncTopic(ctx, x, d); err != nil {
		if wait, ok := retryable(x, err); ok {
			return runner.Retry(fmt.Errorf("setting the topic: %w", err), wait), true
		}
		s.log.Warn().Err(err).Int64("run", x.Run().ID).Msg("setting the incident topic failed")
	}
	for _, work := range []func(context.Context, *runner.Exec) (runner.Result, bool){
		s.inviteNewcomers, s.pageRequested, s.pageOnUpgrade,
		func(ctx context.Context, x *runner.Exec) (runner.Result, bool) { return s.offerPublic(ctx, x, false) },
		func(ctx context.Context, x *runner.Exec) (runner.Result, bool) { return s.tell(ctx, x, false) },
		s.noteAcknowledgement,
	} {
		if res, stop := work(ctx, x); stop {
			return res, true
		}
	}
	return runner.Result{}, false
}

// vendorFailed decides what a failed vendor call in the response means: stop and retry the
// step (a transient error), or report it in the channel and go on (anything else), so that one
// refusing integration does not hold up the others.
func (s *Service) vendorFailed(ctx context.Context, x *runner.Exec, err error, doing, note string) (runner.Result, bool) {
	if wait, ok := retryable(x, err); ok {
		return runner.Retry(fmt.Errorf("%s: %w", doing, err), wait), true
	}
	d, derr := decodeData(x.Run())
	if derr == nil && d.ChannelID != "" {
		msg := chat.Text("%s⚠️ %s failed: %s", drillMark(d), doing, clip(err.Error(), 300))
		if perr := s.post(ctx, x.Run(), d.ChannelID, note, msg); perr != nil {
			return retryStore(perr), true
		}
	}
	return runner.Result{}, false
}

// inviteNewcomers invites a new commander or role holder into the channel.
func (s *Service) inviteNewcomers(ctx context.Context, x *runner.Exec) (runner.Result, bool) {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error()), true
	}
	var newcomers []string
	for _, id := range append([]string{d.Commander}, slices.Collect(maps.Values(d.Roles))...) {
		if !slices.Contains(d.Invited, id) && !slices.Contains(newcomers, id) {
			newcomers = append(newcomers, id)
		}
	}
	if len(newcomers) == 0 {
		return runner.Result{}, false
	}
	if err := s.opts.Slack.Invite(ctx, d.ChannelID, newcomers...); err != nil {
		if res, stop := s.vendorFailed(ctx, x, err, "inviting "+mentions(newcomers), "invite:"+strings.Join(newcomers, ",")); stop {
			return res, true
		}
	}
	if err := updateRunData(ctx, x, func(d *record) { d.Invited = unique(append(d.Invited, newcomers...)) }); err != nil {
		return retryStore(err), true
	}
	return runner.Result{}, false
}

// pageRequested adds the responders people asked for with /incident page, opening the
// PagerDuty incident first when the severity did not page.
func (s *Service) pageRequested(ctx context.Context, x *runner.Exec) (runner.Result, bool) {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error()), true
	}
	for _, req := range d.Pages {
		if req.Done {
			continue
		}
		outcome, err := s.page(ctx, x, req)
		if err != nil {
			if res, stop := s.vendorFailed(ctx, x, err, "paging "+describeTarget(req), fmt.Sprintf("page:%d:failed", req.Seq)); stop {
				return res, true
			}
			outcome = "failed: " + clip(err.Error(), 200)
		}
		if err := updateRunData(ctx, x, func(d *record) {
			for i := range d.Pages {
				if d.Pages[i].Seq == req.Seq {
					d.Pages[i].Done, d.Pages[i].Outcome = true, outcome
				}
			}
		}); err != nil {
			return retryStore(err), true
		}
		run := x.Run()
		text := fmt.Sprintf("%s📟 %s asked to page %s: %s", drillMark(d), chat.User(req.By), describeTarget(req), outcome)
		if err := s.post(ctx, run, d.ChannelID, fmt.Sprintf("page:%d", req.Seq), chat.Text("%s", text)); err != nil {
			return retryStore(err), true
		}
		s.timeline(ctx, run.ID, store.RunEvent{At: req.At, Kind: "page", Actor: req.By, Key: fmt.Sprintf("page:%d", req.Seq),
			Text: fmt.Sprintf("Paged %s: %s", describeTarget(req), outcome)})
	}
	return runner.Result{}, false
}

func describeTarget(req pageRequest) string {
	if req.UserID != "" {
		return chat.User(req.UserID)
	}
	return "the on-call of " + req.Service
}

// page asks PagerDuty for one more responder and returns what happened.
func (s *Service) page(ctx context.Context, x *runner.Exec, req pageRequest) (string, error) {
	d, err := decodeData(x.Run())
	if err != nil {
		return "", err
	}
	pd, why := s.dialPagerDuty(d)
	if pd == nil {
		return "not paged: " + why, nil
	}
	var target pagerduty.Target
	if req.UserID != "" {
		u, err := s.opts.Slack.User(ctx, req.UserID)
		if err != nil {
			return "", err
		}
		if u.Email == "" {
			return "not paged: Slack does not share their email, so they cannot be found in PagerDuty", nil
		}
		person, err := pd.UserByEmail(ctx, u.Email)
		if errors.Is(err, pagerduty.ErrNotFound) {
			return fmt.Sprintf("not paged: no PagerDuty user has the email %s", u.Email), nil
		}
		if err != nil {
			return "", err
		}
		target = pagerduty.UserTarget(person.ID)
		if err := s.opts.Slack.Invite(ctx, d.ChannelID, req.UserID); err != nil {
			return "", err
		}
	} else {
		target = pagerduty.PolicyTarget(s.cfg.PagerDuty.Services[req.Service])
	}
	p, err := s.ensurePaged(ctx, x, pd)
	if err != nil {
		return "", err
	}
	message := fmt.Sprintf("Please join %s in Slack: #%s", plainText(incidentName(d)), d.ChannelName)
	if err := pd.AddResponder(ctx, p.IncidentID, target, message); err != nil {
		return "", err
	}
	return fmt.Sprintf("asked to respond to %s", chat.Link(p.URL, fmt.Sprintf("PagerDuty #%d", p.Number))), nil
}

// pageOnUpgrade pages the on-call when the severity was raised to one that pages.
func (s *Service) pageOnUpgrade(ctx context.Context, x *runner.Exec) (runner.Result, bool) {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error()), true
	}
	if d.Paging != nil || !s.severity(d).Pages() {
		return runner.Result{}, false
	}
	pd, why := s.dialPagerDuty(d)
	if pd == nil {
		s.log.Info().Int64("run", x.Run().ID).Str("why", why).Msg("not paging on the severity change")
		return runner.Result{}, false
	}
	p, err := s.ensurePaged(ctx, x, pd)
	if err != nil {
		return s.vendorFailed(ctx, x, err, "paging the on-call for "+sevLabel(d.Severity), fmt.Sprintf("page:upgrade:%d", d.Severity))
	}
	text := fmt.Sprintf("%s📟 %s pages: %s", drillMark(d), sevLabel(d.Severity), describePaging(p, d.OnCall))
	if err := s.post(ctx, x.Run(), d.ChannelID, fmt.Sprintf("page:upgrade:%d", d.Severity), chat.Text("%s", text)); err != nil {
		return retryStore(err), true
	}
	return runner.Result{}, false
}

// offerPublic handles each entry's public text under the status page rule of its severity:
// published at once (auto), shown to the commander for an OK (confirm) or left (off). An OK
// given since is published. final includes the resolution, which only resolving publishes.
func (s *Service) offerPublic(ctx context.Context, x *runner.Exec, final bool) (runner.Result, bool) {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error()), true
	}
	sp, _ := s.dialStatuspage(d)
	for _, e := range d.Entries {
		if e.Seq <= d.Offered || (e.Kind == entryResolved && !final) {
			continue
		}
		switch rule := s.publishRule(d, e.Severity); {
		case sp == nil || rule == config.PublishOff || e.Kind == entryResolved:
			// Nothing to publish: resolving the status page incident is a step of its own.
		case e.Kind == entrySeverity && d.Published != nil:
			// The new severity shows in the affected components' status, not in new text.
			if res, stop := s.publish(ctx, x, sp, e); stop {
				return res, true
			}
		case e.Public == "":
			// Nothing public changes.
		case rule == config.PublishAuto:
			if res, stop := s.publish(ctx, x, sp, e); stop {
				return res, true
			}
		case rule == config.PublishConfirm:
			if err := s.askToPublish(ctx, x, d, e); err != nil {
				return retryStore(err), true
			}
		}
		if err := updateRunData(ctx, x, func(d *record) { d.Offered = max(d.Offered, e.Seq) }); err != nil {
			return retryStore(err), true
		}
	}
	d, err = decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error()), true
	}
	if a := d.Approved; a != nil && a.Seq > d.PublishedSeq && sp != nil {
		e, _ := d.entry(a.Seq)
		if res, stop := s.publish(ctx, x, sp, e); stop {
			return res, true
		}
		if err := s.upsert(ctx, x.Run(), d.ChannelID, fmt.Sprintf("publish:%d", e.Seq),
			chat.Text("%s✅ %s published this on the status page %s:\n>%s", drillMark(d), chat.User(a.By), chat.Time(a.At), quoteLines(e.Public))); err != nil {
			return retryStore(err), true
		}
	}
	return runner.Result{}, false
}

// publish puts an entry on the status page: the incident is created with it, or updated.
// Both look for their own effect first (the incident key; an update with the same text).
func (s *Service) publish(ctx context.Context, x *runner.Exec, sp Statuspage, e entry) (runner.Result, bool) {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error()), true
	}
	run := x.Run()
	sev := s.severity(d)
	components := map[string]statuspage.ComponentStatus{}
	for _, c := range d.Components {
		components[c.ID] = statuspage.ComponentStatus(sev.ComponentStatus)
	}
	var inc statuspage.Incident
	if d.Published == nil {
		inc, err = sp.CreateIncident(ctx, statuspage.NewIncident{
			Key: fmt.Sprintf("opsbot-incident-%d", run.ID), Name: publicName(d), Status: statuspage.IncidentStatus(e.Phase),
			Impact: statuspage.Impact(sev.Impact), Body: e.Public, Components: components,
		})
	} else {
		inc, err = sp.UpdateIncident(ctx, d.Published.IncidentID, statuspage.Change{
			Status: statuspage.IncidentStatus(e.Phase), Body: e.Public, Components: components,
		})
	}
	if err != nil {
		if res, stop := s.vendorFailed(ctx, x, err, "publishing on the status page", fmt.Sprintf("publish:%d:failed", e.Seq)); stop {
			return res, true
		}
		// Given up on: the card says so (publishDeclaration), and the next entry tries again.
		if err := updateRunData(ctx, x, func(d *record) { d.PublishFailed = clip(err.Error(), 300) }); err != nil {
			return retryStore(err), true
		}
		return runner.Result{}, false
	}
	if err := updateRunData(ctx, x, func(d *record) {
		d.Published = &publication{IncidentID: inc.ID, URL: inc.URL, Status: string(inc.Status)}
		d.PublishedSeq = max(d.PublishedSeq, e.Seq)
		d.PublishFailed = ""
	}); err != nil {
		return retryStore(err), true
	}
	text := fmt.Sprintf("Status page: %s", titleCase(string(inc.Status)))
	if e.Public != "" && e.Kind != entrySeverity {
		text += fmt.Sprintf(" — %q", e.Public)
	}
	if len(components) > 0 {
		text += fmt.Sprintf(" (%s: %s)", componentNames(d.Components), strings.ReplaceAll(sev.ComponentStatus, "_", " "))
	}
	s.timeline(ctx, run.ID, store.RunEvent{At: x.Now(), Kind: "statuspage", Key: fmt.Sprintf("statuspage:%d", e.Seq), Text: text})
	return runner.Result{}, false
}

// publicName is the status page incident's name.
func publicName(d record) string {
	name := plainText(d.Title)
	if d.Drill {
		name = "[DRILL] " + name
	}
	return name
}

// askToPublish shows the commander the exact public text with a "Publish to status page"
// button; an earlier request that was not answered is marked superseded.
func (s *Service) askToPublish(ctx context.Context, x *runner.Exec, d record, e entry) error {
	run := x.Run()
	if old := d.Awaiting; old != 0 && old != e.Seq && old > d.PublishedSeq {
		if err := s.upsert(ctx, run, d.ChannelID, fmt.Sprintf("publish:%d", old),
			chat.Text("%s~Status page text awaiting an OK~ — superseded by a newer update; see below.", drillMark(d))); err != nil {
			return err
		}
	}
	if err := s.upsert(ctx, run, d.ChannelID, fmt.Sprintf("publish:%d", e.Seq), s.renderPublishRequest(run, d, e)); err != nil {
		return err
	}
	return updateRunData(ctx, x, func(d *record) { d.Awaiting = e.Seq })
}

// renderPublishRequest shows exactly what the public will read, for the commander to OK.
func (s *Service) renderPublishRequest(run store.Run, d record, e entry) chat.Message {
	sev := s.cfg.Severity(e.Severity)
	name := publicName(d)
	if d.Published != nil {
		name = "update to " + name
	}
	lines := []string{
		fmt.Sprintf("%s📣 %s, %s publishes on the status page only with your OK. Exactly this will be public:", drillMark(d), chat.User(d.Commander), sevLabel(e.Severity)),
		fmt.Sprintf(">*%s* · %s", titleCase(e.Phase), chat.Escape(name)),
		">" + quoteLines(e.Public),
	}
	if len(d.Components) > 0 {
		lines = append(lines, fmt.Sprintf("Components: %s → %s · impact %s", chat.Escape(componentNames(d.Components)),
			strings.ReplaceAll(sev.ComponentStatus, "_", " "), sev.Impact))
	}
	text := strings.Join(lines, "\n")
	publish := button(actionPublish, fmt.Sprintf("%d:%d", run.ID, e.Seq), "Publish to status page", slack.StylePrimary)
	return chat.Message{Text: text, Blocks: []slack.Block{
		slack.NewSectionBlock(chat.Mrkdwn(text), nil, nil),
		slack.NewActionBlock("publish", publish),
	}}
}

// quoteLines makes public text safe to show inside a Slack quote.
func quoteLines(s string) string { return strings.ReplaceAll(chat.Escape(s), "\n", "\n>") }

// tell tells each entry to the stakeholders of its severity: channels and direct messages in
// Slack (once each, by key), and a PagerDuty status update to the incident's subscribers.
// final includes the resolution.
func (s *Service) tell(ctx context.Context, x *runner.Exec, final bool) (runner.Result, bool) {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error()), true
	}
	run := x.Run()
	for _, e := range d.Entries {
		if e.Seq <= d.Told || (e.Kind == entryResolved && !final) {
			continue
		}
		sev := s.cfg.Severity(e.Severity)
		targets := append(append([]string(nil), sev.Stakeholders.Channels...), sev.Stakeholders.Users...)
		name := func(target string) string { return fmt.Sprintf("tell:%d:%s", e.Seq, target) }
		if err := s.postAll(ctx, run, targets, name, chat.Text("%s", s.renderStakeholderNote(d, e))); err != nil {
			return retryStore(err), true
		}
		if err := updateRunData(ctx, x, func(d *record) { d.Told = max(d.Told, e.Seq) }); err != nil {
			return retryStore(err), true
		}
	}
	pd, _ := s.dialPagerDuty(d)
	for _, e := range d.Entries {
		if e.Seq <= d.PagerDutyTold || (e.Kind == entryResolved && !final) {
			continue
		}
		if err := updateRunData(ctx, x, func(d *record) { d.PagerDutyTold = max(d.PagerDutyTold, e.Seq) }); err != nil {
			return retryStore(err), true
		}
		if pd == nil || d.Paging == nil || !s.cfg.Severity(e.Severity).PostsPagerDutyStatusUpdate() {
			continue
		}
		if err := pd.PostStatusUpdate(ctx, d.Paging.IncidentID, plainText(s.renderStakeholderNote(d, e))); err != nil {
			// Not retried: it may have been posted, and PagerDuty cannot tell.
			if res, stop := s.vendorFailed(ctx, x, noRetry{err}, "posting the PagerDuty status update", fmt.Sprintf("tell:%d:pagerduty:failed", e.Seq)); stop {
				return res, true
			}
		}
	}
	return runner.Result{}, false
}

// noRetry marks an error that must not be retried, whatever its kind.
type noRetry struct{ error }

func (e noRetry) Unwrap() error           { return e.error }
func (noRetry) Retryable() bool           { return false }
func (noRetry) RetryAfter() time.Duration { return 0 }

// noteAcknowledgement reads whether the on-call acknowledged the page yet, for the card.
func (s *Service) noteAcknowledgement(ctx context.Context, x *runner.Exec) (runner.Result, bool) {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error()), true
	}
	pd, _ := s.dialPagerDuty(d)
	if pd == nil || d.Paging == nil || d.Paging.AcknowledgedAt != nil {
		return runner.Result{}, false
	}
	inc, err := pd.Incident(ctx, d.Paging.IncidentID)
	if err != nil || inc.AcknowledgedAt.IsZero() {
		// Only the card's "acknowledged" waits for it; the next look will tell.
		return runner.Result{}, false
	}
	if err := updateRunData(ctx, x, func(d *record) { d.Paging.AcknowledgedAt = &inc.AcknowledgedAt }); err != nil {
		return retryStore(err), true
	}
	s.timeline(ctx, x.Run().ID, store.RunEvent{At: inc.AcknowledgedAt, Kind: "page", Key: "page:acknowledged",
		Text: fmt.Sprintf("PagerDuty #%d acknowledged", d.Paging.Number)})
	return runner.Result{}, false
}

// ackRecheck is how soon the response looks again whether the on-call acknowledged the page.
const ackRecheck = 2 * time.Minute

// remind posts a reminder to the commander when no update came for the severity's interval,
// and sleeps until the next one is due.
func (s *Service) remind(ctx context.Context, x *runner.Exec, d record) runner.Result {
	every := s.severity(d).ReminderEvery()
	if every == 0 || d.NextReminder == nil {
		return s.sleep(x, d, nil, "open until someone resolves it")
	}
	due := *d.NextReminder
	if !x.Now().Before(due) {
		n := d.Reminders + 1
		if err := s.post(ctx, x.Run(), d.ChannelID, fmt.Sprintf("reminder:%d", n), s.renderReminder(x.Run(), d, x.Now())); err != nil {
			return retryStore(err)
		}
		next := x.Now().Add(every)
		if err := updateRunData(ctx, x, func(d *record) { d.Reminders, d.NextReminder = n, &next }); err != nil {
			return retryStore(err)
		}
		due = next
	}
	return s.sleep(x, d, &due, fmt.Sprintf("next reminder to %s due %s", chat.User(d.Commander), chat.Time(due)))
}

// sleep waits for a command or the reminder due; while the page is not acknowledged it looks
// again sooner, for the card.
func (s *Service) sleep(x *runner.Exec, d record, due *time.Time, detail string) runner.Result {
	if d.Paging != nil && d.Paging.AcknowledgedAt == nil {
		recheck := x.Now().Add(ackRecheck)
		if due == nil || recheck.Before(*due) {
			return runner.WaitForPerson(detail).RecheckAt(recheck)
		}
	}
	if due == nil {
		return runner.WaitForPerson(detail)
	}
	return runner.WaitUntil(*due, detail)
}

// renderReminder asks the commander for an update, with Snooze.
func (s *Service) renderReminder(run store.Run, d record, now time.Time) chat.Message {
	last := d.DeclaredAt
	for _, e := range d.Entries {
		if e.Kind == entryUpdate || e.Kind == entryDeclared {
			last = e.At
		}
	}
	text := fmt.Sprintf("%s⏰ %s, no update on this %s for %s. Stakeholders expect one: post it with `/incident update STATUS message`, or snooze me.",
		drillMark(d), chat.User(d.Commander), sevLabel(d.Severity), chat.Duration(now.Sub(last)))
	value := fmt.Sprint(run.ID)
	return chat.Message{Text: text, Blocks: []slack.Block{
		slack.NewSectionBlock(chat.Mrkdwn(text), nil, nil),
		slack.NewActionBlock("reminder",
			button(actionUpdate, value, "Post update", slack.StylePrimary),
			button(actionSnooze, value, "Snooze 15 min", "")),
	}}
}
