package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/store"
)

// Declaration is what /incident declare, or its form, says. Text fields are Slack mrkdwn that
// the caller made safe to post (commands.Sanitize).
type Declaration struct {
	Severity    int // 1 (most severe) to 4; 0 when not given
	Title       string
	Description string
	// Components are the affected status page components' IDs; nil means the configured ones.
	Components []string
	// CustomerFacing says whether the public should hear of it; nil leaves it to the severity's
	// status page rule.
	CustomerFacing *bool
	Drill          bool
}

// defaultSeverity is the severity of an incident declared without one.
const defaultSeverity = 3

// Declare opens an incident: a run that creates its channel, pages, publishes and tells
// people as the severity's rules say. who becomes the commander.
func (s *Service) Declare(ctx context.Context, who chat.Actor, decl Declaration) (chat.Message, error) {
	if err := s.mayDeclare(ctx, who); err != nil {
		return chat.Message{}, err
	}
	title := strings.TrimSpace(decl.Title)
	if title == "" {
		return chat.Message{}, chat.Refuse("Give the incident a title, e.g. /incident declare sev2 Checkout errors.")
	}
	level, defaulted := decl.Severity, false
	if level == 0 {
		level, defaulted = defaultSeverity, true
	}
	if s.cfg.Severity(level) == nil {
		return chat.Message{}, chat.Refuse("There is no severity sev%d; use sev1 (the most severe) to sev4.", level)
	}
	now := s.now()
	d := record{
		Title: title, Description: strings.TrimSpace(decl.Description), Severity: level, Phase: phaseInvestigating,
		Drill: decl.Drill, Declarer: who.UserID, Commander: who.UserID, DeclaredAt: now,
		ChannelName: channelName(s.cfg.ChannelPrefix, now, title, decl.Drill),
		Components:  s.components(ctx, decl.Components),
	}
	d.CustomerFacing = s.cfg.Severity(level).StatusPage != config.PublishOff
	if decl.CustomerFacing != nil {
		d.CustomerFacing = *decl.CustomerFacing
	}
	d.addEntry(entry{Kind: entryDeclared, Phase: d.Phase, Severity: level, Text: d.Description,
		Public: declarationText(d), By: who.UserID, At: now})
	if every := s.cfg.Severity(level).ReminderEvery(); every > 0 {
		due := now.Add(every)
		d.NextReminder = &due
	}
	run := store.Run{
		Kind: store.KindIncident, State: store.RunRunning, RequestedBy: who.UserID, Channel: who.ChannelID,
		Title: runTitle(d), WakeAt: &now, Steps: pendingSteps(allSteps...),
	}
	if err := encodeData(&run, d); err != nil {
		return chat.Message{}, err
	}
	run, err := s.opts.Store.CreateRun(ctx, run)
	if err != nil {
		return chat.Message{}, fmt.Errorf("recording the incident: %w", err)
	}
	s.timeline(ctx, run.ID, store.RunEvent{At: now, Kind: "declared", Actor: who.UserID, Key: "declared",
		Text: fmt.Sprintf("%s declared %s", chat.User(who.UserID), incidentName(d))})
	s.opts.Wake()
	reply := fmt.Sprintf("%sDeclared *%s* (incident #%d). Opening #%s — you are the commander.",
		drillMark(d), incidentName(d), run.ID, d.ChannelName)
	if defaulted {
		reply += fmt.Sprintf(" No severity was given, so it is %s; change it with /incident severity sev1.", sevLabel(level))
	}
	return chat.Text("%s", reply), nil
}

// declarationText is the status page's first words on an incident.
func declarationText(d record) string {
	if names := componentNames(d.Components); names != "" {
		return fmt.Sprintf("We are investigating an issue affecting %s. We will post an update as soon as we know more.", names)
	}
	return fmt.Sprintf("We are investigating an issue: %s. We will post an update as soon as we know more.", plainText(d.Title))
}

// components names the affected components (the configured ones when ids is nil), as the
// status page calls them; a page that cannot be read leaves them named by ID.
func (s *Service) components(ctx context.Context, ids []string) []component {
	if ids == nil {
		ids = s.cfg.Statuspage.Components
	}
	names := map[string]string{}
	if len(ids) > 0 && s.opts.Statuspage != nil {
		list, err := s.opts.Statuspage.Components(ctx)
		if err != nil {
			s.log.Warn().Err(err).Msg("reading the status page's components failed; naming them by ID")
		}
		for _, c := range list {
			names[c.ID] = c.Name
		}
	}
	var out []component
	for _, id := range ids {
		name := names[id]
		if name == "" {
			name = id
		}
		out = append(out, component{ID: id, Name: name})
	}
	return out
}

func pendingSteps(names ...string) []store.Step {
	steps := make([]store.Step, len(names))
	for i, n := range names {
		steps[i] = store.Step{Name: n, State: store.StepPending}
	}
	return steps
}

// InChannel returns the incident whose channel channelID is, for commands typed there.
func (s *Service) InChannel(ctx context.Context, channelID string) (int64, error) {
	runs, err := s.opts.Store.ListRuns(ctx, store.RunQuery{Kinds: []store.RunKind{store.KindIncident}, Limit: 200})
	if err != nil {
		return 0, fmt.Errorf("finding the incident of channel %s: %w", channelID, err)
	}
	var open []string
	for _, r := range runs {
		d, err := decodeData(r)
		if err != nil {
			return 0, err
		}
		switch {
		case d.ChannelID == "":
			// Its channel is still being made; until then the incident has none to be typed in.
		case d.ChannelID == channelID:
			return r.ID, nil
		case d.Resolution == nil:
			open = append(open, channelRef(d.ChannelID))
		}
	}
	if len(open) == 0 {
		return 0, chat.Refuse("This is not an incident channel, and no incident is open. Declare one with /incident declare.")
	}
	return 0, chat.Refuse("This is not an incident channel: type it in the incident's channel (%s).", strings.Join(open, ", "))
}

// change records a command's change to an open incident and makes the run due, to carry out
// what it asks of Slack, PagerDuty and the status page. The caller wakes the run once it has
// posted what the change says, so that the channel reads in the order things happened.
func (s *Service) change(ctx context.Context, runID int64, mutate func(*store.Run, *record) error) (store.Run, record, error) {
	now := s.now()
	run, d, err := updateData(ctx, s.opts.Store, runID, func(r *store.Run, d *record) error {
		if r.Kind != store.KindIncident {
			return chat.Refuse("That is not an incident.")
		}
		if r.State.Final() || d.Resolution != nil {
			return chat.Refuse("%s is resolved; it can no longer change.", incidentName(*d))
		}
		if err := mutate(r, d); err != nil {
			return err
		}
		d.Rev++
		r.WakeAt = &now
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return run, d, chat.Refuse("That incident does not exist.")
	}
	if err != nil {
		return run, d, err
	}
	if err := s.refresh(ctx, run); err != nil {
		return run, d, err
	}
	return run, d, nil
}

// Update posts a status update: in the channel now; to the stakeholders and the status page
// (under the severity's rule) by the run.
func (s *Service) Update(ctx context.Context, who chat.Actor, runID int64, phase, text string) (chat.Message, error) {
	if phase != phaseInvestigating && phase != phaseIdentified && phase != phaseMonitoring {
		return chat.Message{}, chat.Refuse("The status is investigating, identified or monitoring, not %q.", phase)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return chat.Message{}, chat.Refuse("Say what is going on after the status.")
	}
	var e entry
	run, d, err := s.change(ctx, runID, func(r *store.Run, d *record) error {
		if err := s.mayRespond(ctx, who, *d, "post updates on"); err != nil {
			return err
		}
		e = d.addEntry(entry{Kind: entryUpdate, Phase: phase, Severity: d.Severity, Text: text, Public: plainText(text), By: who.UserID, At: s.now()})
		d.Phase = phase
		s.resetReminder(d)
		return nil
	})
	if err != nil {
		return chat.Message{}, err
	}
	if err := s.postEntry(ctx, run, d, e, store.RunEvent{Kind: "update", Text: fmt.Sprintf("%s: %s", titleCase(phase), text)}); err != nil {
		return chat.Message{}, err
	}
	return chat.Text("Update posted. %s", s.whatHappensNext(d)), nil
}

// whatHappensNext tells the person who posted an update where it goes.
func (s *Service) whatHappensNext(d record) string {
	var next []string
	if audience := s.audience(d, s.severity(d)); len(audience) > 0 {
		next = append(next, "it goes to "+strings.Join(audience, ", "))
	}
	if _, why := s.dialStatuspage(d); why == "" {
		switch s.publishRule(d, d.Severity) {
		case config.PublishAuto:
			next = append(next, "the status page shows it as it is")
		case config.PublishConfirm:
			next = append(next, fmt.Sprintf("the status page waits for %s's OK", chat.User(d.Commander)))
		}
	}
	if len(next) == 0 {
		return ""
	}
	return titleCase(strings.Join(next, "; ")) + "."
}

// resetReminder starts the reminder interval again from now.
func (s *Service) resetReminder(d *record) {
	d.NextReminder = nil
	if every := s.severity(*d).ReminderEvery(); every > 0 {
		due := s.now().Add(every)
		d.NextReminder = &due
	}
}

// SetSeverity changes the severity and re-applies its rules: paging, the status page,
// stakeholders and reminders.
func (s *Service) SetSeverity(ctx context.Context, who chat.Actor, runID int64, level int) (chat.Message, error) {
	if s.cfg.Severity(level) == nil {
		return chat.Message{}, chat.Refuse("There is no severity sev%d; use sev1 (the most severe) to sev4.", level)
	}
	var e entry
	run, d, err := s.change(ctx, runID, func(r *store.Run, d *record) error {
		if err := s.mayLead(ctx, who, *d, "change the severity of"); err != nil {
			return err
		}
		if d.Severity == level {
			return chat.Refuse("%s is %s already.", d.Title, sevLabel(level))
		}
		public := ""
		if latest, ok := d.latestPublic(); ok && d.Published == nil {
			public = latest.Public // not published yet: the new severity's rule may publish it
		}
		e = d.addEntry(entry{Kind: entrySeverity, Phase: d.Phase, Severity: level, Public: public, By: who.UserID, At: s.now(),
			Text: fmt.Sprintf("It was %s.", sevLabel(d.Severity))})
		d.Severity = level
		r.Title = runTitle(*d)
		s.resetReminder(d)
		return nil
	})
	if err != nil {
		return chat.Message{}, err
	}
	ev := store.RunEvent{Kind: "severity", Text: fmt.Sprintf("Severity changed to %s (%s)", sevLabel(level), e.Text)}
	if err := s.postEntry(ctx, run, d, e, ev); err != nil {
		return chat.Message{}, err
	}
	return chat.Text("%s is now %s; its rules apply from now on.", d.Title, sevLabel(level)), nil
}

// Page asks PagerDuty for another responder: a person (userID) or a configured service's
// on-call.
func (s *Service) Page(ctx context.Context, who chat.Actor, runID int64, userID, service string) (chat.Message, error) {
	if service != "" {
		if _, ok := s.cfg.PagerDuty.Services[service]; !ok {
			known := sortedKeys(s.cfg.PagerDuty.Services)
			if len(known) == 0 {
				return chat.Message{}, chat.Refuse("No services are set up for paging (incidents.pagerduty.services); page a person with /incident page @name.")
			}
			return chat.Message{}, chat.Refuse("There is no service %q to page. Known: %s.", service, strings.Join(known, ", "))
		}
	}
	if (userID == "") == (service == "") {
		return chat.Message{}, chat.Refuse("Say who to page: a person or a service.")
	}
	req := pageRequest{UserID: userID, Service: service, By: who.UserID, At: s.now()}
	if _, _, err := s.change(ctx, runID, func(r *store.Run, d *record) error {
		if err := s.mayRespond(ctx, who, *d, "page people for"); err != nil {
			return err
		}
		req.Seq = len(d.Pages) + 1
		d.Pages = append(d.Pages, req)
		return nil
	}); err != nil {
		return chat.Message{}, err
	}
	s.opts.Wake()
	return chat.Text("Paging %s through PagerDuty; the channel hears how it went.", describeTarget(req)), nil
}

// SetCommander hands the incident command to userID.
func (s *Service) SetCommander(ctx context.Context, who chat.Actor, runID int64, userID string) (chat.Message, error) {
	var was string
	run, d, err := s.change(ctx, runID, func(r *store.Run, d *record) error {
		if err := s.mayLead(ctx, who, *d, "hand over"); err != nil {
			return err
		}
		if d.Commander == userID {
			return chat.Refuse("%s is the commander already.", chat.User(userID))
		}
		was, d.Commander = d.Commander, userID
		d.RoleChanges++
		return nil
	})
	if err != nil {
		return chat.Message{}, err
	}
	return s.announceRole(ctx, run, d, who, "commander", userID, was)
}

// AssignRole gives one of the configured incident roles (comms, scribe …) to userID.
func (s *Service) AssignRole(ctx context.Context, who chat.Actor, runID int64, role, userID string) (chat.Message, error) {
	if role == "commander" {
		return s.SetCommander(ctx, who, runID, userID)
	}
	if !slices.Contains(s.cfg.Roles, role) {
		return chat.Message{}, chat.Refuse("There is no incident role %q. Known: commander, %s.", role, strings.Join(s.cfg.Roles, ", "))
	}
	var was string
	run, d, err := s.change(ctx, runID, func(r *store.Run, d *record) error {
		if err := s.mayLead(ctx, who, *d, "give roles in"); err != nil {
			return err
		}
		if d.Roles == nil {
			d.Roles = map[string]string{}
		}
		was, d.Roles[role] = d.Roles[role], userID
		d.RoleChanges++
		return nil
	})
	if err != nil {
		return chat.Message{}, err
	}
	return s.announceRole(ctx, run, d, who, role, userID, was)
}

func (s *Service) announceRole(ctx context.Context, run store.Run, d record, who chat.Actor, role, userID, was string) (chat.Message, error) {
	text := fmt.Sprintf("%s🎖 %s is now the %s", drillMark(d), chat.User(userID), role)
	if was != "" {
		text += " (was " + chat.User(was) + ")"
	}
	text += ", set by " + chat.User(who.UserID) + "."
	key := fmt.Sprintf("role:%d", d.RoleChanges)
	if err := s.post(ctx, run, d.ChannelID, key, chat.Text("%s", text)); err != nil {
		return chat.Message{}, err
	}
	s.timeline(ctx, run.ID, store.RunEvent{At: s.now(), Kind: "role", Actor: who.UserID, Key: key,
		Text: fmt.Sprintf("%s became the %s", chat.User(userID), role)})
	s.opts.Wake()
	return chat.Message{}, nil
}

// Resolve resolves the incident; the run then resolves PagerDuty and the status page, tells
// everyone, and drafts the postmortem.
func (s *Service) Resolve(ctx context.Context, who chat.Actor, runID int64, summary string) (chat.Message, error) {
	summary = strings.TrimSpace(summary)
	var e entry
	run, d, err := s.change(ctx, runID, func(r *store.Run, d *record) error {
		if err := s.mayLead(ctx, who, *d, "resolve"); err != nil {
			return err
		}
		public := plainText(summary)
		if public == "" {
			public = "This incident has been resolved."
		}
		now := s.now()
		e = d.addEntry(entry{Kind: entryResolved, Phase: phaseResolved, Severity: d.Severity, Text: summary, Public: public, By: who.UserID, At: now})
		d.Phase, d.Resolution, d.NextReminder = phaseResolved, &resolution{Summary: summary, By: who.UserID, At: now}, nil
		return nil
	})
	if err != nil {
		return chat.Message{}, err
	}
	ev := store.RunEvent{Kind: "resolved", Key: "resolved", Text: strings.TrimSpace("Resolved. " + summary)}
	if err := s.postEntry(ctx, run, d, e, ev); err != nil {
		return chat.Message{}, err
	}
	return chat.Text("Resolving %s: PagerDuty, the status page and the stakeholders are next; the durations and the postmortem draft follow in the card's thread.", d.Title), nil
}

// Followup records a follow-up action for the postmortem.
func (s *Service) Followup(ctx context.Context, who chat.Actor, runID int64, text string) (chat.Message, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return chat.Message{}, chat.Refuse("Say what should be followed up.")
	}
	now := s.now()
	var n int
	run, d, err := updateData(ctx, s.opts.Store, runID, func(r *store.Run, d *record) error {
		if r.Kind != store.KindIncident {
			return chat.Refuse("That is not an incident.")
		}
		d.Followups = append(d.Followups, followup{Text: text, By: who.UserID, At: now})
		n = len(d.Followups)
		return nil
	})
	if err != nil {
		return chat.Message{}, err
	}
	key := fmt.Sprintf("followup:%d", n)
	if err := s.post(ctx, run, d.ChannelID, key, chat.Text("%s📝 Follow-up recorded by %s: %s", drillMark(d), chat.User(who.UserID), text)); err != nil {
		return chat.Message{}, err
	}
	s.timeline(ctx, run.ID, store.RunEvent{At: now, Kind: "followup", Actor: who.UserID, Key: key, Text: "Follow-up: " + text})
	if st := run.StepByName(stepPostmortem); st != nil && st.State == store.StepPassed {
		if err := s.postPostmortem(ctx, run, d); err != nil {
			return chat.Message{}, err
		}
		return chat.Text("Recorded; the postmortem draft lists it now."), nil
	}
	return chat.Text("Recorded for the postmortem."), nil
}

// snoozeFor is how long Snooze puts off the next reminder.
const snoozeFor = 15 * time.Minute

// Snooze puts off the next reminder.
func (s *Service) Snooze(ctx context.Context, who chat.Actor, runID int64) (chat.Message, error) {
	until := s.now().Add(snoozeFor)
	run, d, err := s.change(ctx, runID, func(r *store.Run, d *record) error {
		if err := s.mayLead(ctx, who, *d, "snooze the reminders of"); err != nil {
			return err
		}
		d.NextReminder = &until
		return nil
	})
	if err != nil {
		return chat.Message{}, err
	}
	if d.Reminders > 0 {
		last := fmt.Sprintf("reminder:%d", d.Reminders)
		text := fmt.Sprintf("%s⏰ ~No update for a while~ — snoozed by %s until %s.", drillMark(d), chat.User(who.UserID), chat.Time(until))
		if err := s.upsert(ctx, run, d.ChannelID, last, chat.Text("%s", text)); err != nil {
			return chat.Message{}, err
		}
	}
	s.opts.Wake()
	return chat.Text("Snoozed: the next reminder comes at %s unless you post an update first.", chat.Time(until)), nil
}

// Publish records the commander's OK to publish the public text they were shown.
func (s *Service) Publish(ctx context.Context, who chat.Actor, runID int64, seq int) (chat.Message, error) {
	if _, _, err := s.change(ctx, runID, func(r *store.Run, d *record) error {
		if err := s.mayLead(ctx, who, *d, "publish on the status page for"); err != nil {
			return err
		}
		switch {
		case seq <= d.PublishedSeq || d.Approved != nil && d.Approved.Seq == seq:
			return chat.Refuse("That text is published already.")
		case seq != d.Awaiting:
			return chat.Refuse("A newer update replaced this text; publish the newest request instead.")
		}
		d.Approved, d.Awaiting = &approval{Seq: seq, By: who.UserID, At: s.now()}, 0
		return nil
	}); err != nil {
		return chat.Message{}, err
	}
	s.opts.Wake()
	return chat.Text("Publishing on the status page."), nil
}

// Tick records that who did a checklist item that needs a person.
func (s *Service) Tick(ctx context.Context, who chat.Actor, runID int64, itemID string) (chat.Message, error) {
	item, ok := checkItemByID(itemID)
	if !ok || item.evidence != nil {
		return chat.Message{}, chat.Refuse("That checklist item is ticked by opsbot when it has done it.")
	}
	already := false
	if _, _, err := s.change(ctx, runID, func(r *store.Run, d *record) error {
		if err := s.mayRespond(ctx, who, *d, "tick the checklist of"); err != nil {
			return err
		}
		if _, done := d.Checklist[itemID]; done {
			already = true
			return nil
		}
		if d.Checklist == nil {
			d.Checklist = map[string]tick{}
		}
		d.Checklist[itemID] = tick{By: who.UserID, At: s.now()}
		return nil
	}); err != nil {
		return chat.Message{}, err
	}
	if already {
		return chat.Text("%s was ticked already.", item.Label), nil
	}
	s.opts.Wake()
	return chat.Message{}, nil
}

// RecentDeploys lists the deploys of the last 24 h, each with a Roll back button.
func (s *Service) RecentDeploys(ctx context.Context, runID int64) (chat.Message, error) {
	run, err := s.opts.Store.GetRun(ctx, runID)
	if err != nil || run.Kind != store.KindIncident {
		return chat.Message{}, chat.Refuse("That incident does not exist.")
	}
	d, err := decodeData(run)
	if err != nil {
		return chat.Message{}, err
	}
	if d.Deploys, err = s.recentDeploys(ctx, s.now()); err != nil {
		return chat.Message{}, err
	}
	return s.renderDeploys(d), nil
}

// List shows the open incidents.
func (s *Service) List(ctx context.Context) (chat.Message, error) {
	runs, err := s.opts.Store.ListRuns(ctx, store.RunQuery{Kinds: []store.RunKind{store.KindIncident}, Active: true, Limit: 50})
	if err != nil {
		return chat.Message{}, fmt.Errorf("listing open incidents: %w", err)
	}
	var lines []string
	for _, r := range runs {
		d, err := decodeData(r)
		if err != nil {
			return chat.Message{}, err
		}
		if d.Resolution != nil {
			continue
		}
		lines = append(lines, fmt.Sprintf("• %s*%s* — %s · commander %s · %s · declared %s",
			drillMark(d), incidentName(d), d.Phase, chat.User(d.Commander), channelOrPending(d), chat.Date(d.DeclaredAt)))
	}
	if len(lines) == 0 {
		return chat.Text("No incident is open."), nil
	}
	return chat.Text("*Open incidents*\n%s", strings.Join(lines, "\n")), nil
}

func channelOrPending(d record) string {
	if d.ChannelID == "" {
		return "#" + d.ChannelName + " (being created)"
	}
	return channelRef(d.ChannelID)
}

// Status describes the incident of the channel it is asked in, or lists the open ones.
func (s *Service) Status(ctx context.Context, who chat.Actor) (chat.Message, error) {
	runID, err := s.InChannel(ctx, who.ChannelID)
	if _, refused := chat.AsRefusal(err); refused {
		return s.List(ctx)
	}
	if err != nil {
		return chat.Message{}, err
	}
	run, err := s.opts.Store.GetRun(ctx, runID)
	if err != nil {
		return chat.Message{}, fmt.Errorf("reading incident %d: %w", runID, err)
	}
	d, err := decodeData(run)
	if err != nil {
		return chat.Message{}, err
	}
	return s.renderCard(run, d, true), nil
}

// mayDeclare checks the incidents.declare setting.
func (s *Service) mayDeclare(ctx context.Context, who chat.Actor) error {
	if s.cfg.Declare == config.DeclareAnyone {
		return nil
	}
	ok, err := s.opts.Roles.Has(ctx, who.UserID, s.cfg.Declare)
	if err != nil {
		return fmt.Errorf("checking the %s role: %w", s.cfg.Declare, err)
	}
	if !ok {
		return chat.Refuse("Only %s can declare an incident.", s.opts.Roles.Holders(s.cfg.Declare))
	}
	return nil
}

// mayLead lets the commander, an incident commander or an admin steer the incident.
func (s *Service) mayLead(ctx context.Context, who chat.Actor, d record, verb string) error {
	if who.UserID == d.Commander {
		return nil
	}
	ok, err := s.opts.Roles.Has(ctx, who.UserID, config.RoleIncidentCommander)
	if err != nil {
		return fmt.Errorf("checking the %s role: %w", config.RoleIncidentCommander, err)
	}
	if !ok {
		return chat.Refuse("Only the commander (%s), %s or an admin can %s this incident.",
			chat.User(d.Commander), s.opts.Roles.Holders(config.RoleIncidentCommander), verb)
	}
	return nil
}

// mayRespond lets those who lead, those with an incident role, and the on-call speak for the
// incident.
func (s *Service) mayRespond(ctx context.Context, who chat.Actor, d record, verb string) error {
	for _, holder := range d.Roles {
		if holder == who.UserID {
			return nil
		}
	}
	if slices.Contains(d.OnCall, who.UserID) {
		return nil
	}
	ok, err := s.opts.Roles.Has(ctx, who.UserID, config.RoleOnCall)
	if err != nil {
		return fmt.Errorf("checking the %s role: %w", config.RoleOnCall, err)
	}
	if ok {
		return nil
	}
	if err := s.mayLead(ctx, who, d, verb); err != nil {
		roles := "a role in it"
		if len(s.cfg.Roles) > 0 {
			roles = "an incident role (" + strings.Join(s.cfg.Roles, ", ") + ")"
		}
		return chat.Refuse("Only the commander (%s), %s, %s, someone with %s or an admin can %s this incident.",
			chat.User(d.Commander), s.opts.Roles.Holders(config.RoleIncidentCommander), s.opts.Roles.Holders(config.RoleOnCall), roles, verb)
	}
	return nil
}
