package incident

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/store"
)

// Action and view IDs this domain owns. Their values name a run (and an item); they are never
// trusted: the run is re-read and the person authorised against it.
const (
	actionUpdate  = "incident.update"
	actionPage    = "incident.page"
	actionDeploys = "incident.deploys"
	actionResolve = "incident.resolve"
	actionPublish = "incident.publish"
	actionSnooze  = "incident.snooze"
	actionCheck   = "incident.check"

	// actionRollback is the deploy domain's: a rollback is a deploy run, started from here.
	actionRollback = "deploy.rollback"

	viewDeclare = "incident.declare"
	viewUpdate  = "incident.update"
	viewPage    = "incident.page"
	viewResolve = "incident.resolve"
)

// OwnsAction reports whether a button belongs to this domain.
func OwnsAction(actionID string) bool { return strings.HasPrefix(actionID, "incident.") }

// OwnsView reports whether a modal belongs to this domain.
func OwnsView(callbackID string) bool { return strings.HasPrefix(callbackID, "incident.") }

// msgKey is the outbox key of one of an incident's messages.
func msgKey(run store.Run, name string) string { return fmt.Sprintf("run:%d:%s", run.ID, name) }

// refresh re-renders what shows the incident's state: the pinned card and checklist in its
// channel, and the announcement in the incidents channel. Unchanged content is not re-sent.
func (s *Service) refresh(ctx context.Context, run store.Run) error {
	d, err := decodeData(run)
	if err != nil {
		return err
	}
	if d.ChannelID != "" {
		if err := s.upsert(ctx, run, d.ChannelID, "card", s.renderCard(run, d, true)); err != nil {
			return err
		}
		if started(run, stepCard) {
			if err := s.upsert(ctx, run, d.ChannelID, "checklist", s.renderChecklist(run, d)); err != nil {
				return err
			}
		}
	}
	if announced := s.opts.Config.Slack.IncidentsChannel; announced != "" && (started(run, stepAnnounce) || run.State == store.RunFailed) {
		return s.upsert(ctx, run, announced, "announce", s.renderCard(run, d, false))
	}
	return nil
}

// started reports whether a step has begun.
func started(run store.Run, step string) bool {
	st := run.StepByName(step)
	return st != nil && st.State != store.StepPending
}

// post queues a message of the incident, once per name.
func (s *Service) post(ctx context.Context, run store.Run, channel, name string, msg chat.Message) error {
	return chat.Queue(ctx, s.opts.Store, store.OutboxMessage{Key: msgKey(run, name), Channel: channel}, msg, s.now())
}

// postAll queues msg to each of channels in one transaction, once per name(channel).
func (s *Service) postAll(ctx context.Context, run store.Run, channels []string, name func(channel string) string, msg chat.Message) error {
	ms := make([]store.OutboxMessage, len(channels))
	for i, channel := range channels {
		ms[i] = store.OutboxMessage{Key: msgKey(run, name(channel)), Channel: channel}
	}
	return chat.QueueAll(ctx, s.opts.Store, ms, msg, s.now())
}

// upsert queues a message of the incident that later changes are made to in place. It always
// carries blocks: chat.update keeps a message's old blocks, buttons included, when given none.
func (s *Service) upsert(ctx context.Context, run store.Run, channel, name string, msg chat.Message) error {
	if len(msg.Blocks) == 0 {
		msg.Blocks = []slack.Block{slack.NewSectionBlock(chat.Mrkdwn(msg.Text), nil, nil)}
	}
	return chat.Queue(ctx, s.opts.Store, store.OutboxMessage{Key: msgKey(run, name), Upsert: true, Channel: channel}, msg, s.now())
}

// reply queues a reply in the thread of the incident's summary card, once per name.
func (s *Service) reply(ctx context.Context, run store.Run, channel, name string, msg chat.Message, upsert bool) error {
	return chat.Queue(ctx, s.opts.Store, store.OutboxMessage{Key: msgKey(run, name), Upsert: upsert, ThreadOf: msgKey(run, "card"), Channel: channel}, msg, s.now())
}

// drillMark starts every message of a drill.
func drillMark(d record) string {
	if d.Drill {
		return "🧪 *DRILL* · "
	}
	return ""
}

// renderCard is the incident at a glance: what is happening, what it waits for, what can be
// done. full adds what the bot did, step by step (the pinned card in the incident channel);
// the announcement in the incidents channel links the channel instead.
func (s *Service) renderCard(run store.Run, d record, full bool) chat.Message {
	header := fmt.Sprintf("%s%s *%s*", drillMark(d), sevIcon(d), incidentName(d))
	if !full && d.ChannelID != "" {
		header += " · " + channelRef(d.ChannelID)
	}
	if outcome := s.outcome(run, d); outcome != "" {
		header += "\n" + outcome
	}
	about := fmt.Sprintf("Commander %s · status *%s* · declared %s by %s",
		chat.User(d.Commander), d.Phase, chat.Date(d.DeclaredAt), chat.User(d.Declarer))
	for _, role := range sortedKeys(d.Roles) {
		about += fmt.Sprintf(" · %s %s", role, chat.User(d.Roles[role]))
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(chat.Mrkdwn(header), nil, nil),
		slack.NewContextBlock("", chat.Mrkdwn(about)),
		slack.NewSectionBlock(chat.Mrkdwn(s.reach(run, d)), nil, nil),
	}
	if full {
		blocks = append(blocks, slack.NewSectionBlock(chat.Mrkdwn(chat.StepLines(run.Steps, stepTitles)), nil, nil))
	} else if len(d.Deploys) > 0 {
		blocks = append(blocks, slack.NewContextBlock("", chat.Mrkdwn("Recent "+s.cfg.Environment+" deploys: "+deployList(d.Deploys))))
	}
	if !run.State.Final() && d.Resolution == nil {
		value := fmt.Sprint(run.ID)
		buttons := []slack.BlockElement{
			button(actionUpdate, value, "Post update", slack.StylePrimary),
			button(actionPage, value, "Page someone", ""),
		}
		if full {
			buttons = append(buttons, button(actionDeploys, value, "Roll back recent deploy", ""))
		}
		buttons = append(buttons, button(actionResolve, value, "Resolve", slack.StyleDanger))
		blocks = append(blocks, slack.NewActionBlock("incident", buttons...))
	}
	text := fmt.Sprintf("%s%s: %s, commander %s", plainDrill(d), incidentName(d), d.Phase, chat.User(d.Commander))
	return chat.Message{Text: text, Blocks: blocks}
}

func plainDrill(d record) string {
	if d.Drill {
		return "DRILL "
	}
	return ""
}

func sevIcon(d record) string {
	switch {
	case d.Phase == phaseResolved:
		return "✅"
	case d.Severity <= 2:
		return "🔥"
	}
	return "⚠️"
}

// outcome is the card's headline once the incident is resolved or its run failed.
func (s *Service) outcome(run store.Run, d record) string {
	if r := d.Resolution; r != nil {
		line := fmt.Sprintf("Resolved %s by %s after %s", chat.Time(r.At), chat.User(r.By), chat.Duration(r.At.Sub(d.DeclaredAt)))
		if r.Summary != "" {
			line += ": " + r.Summary
		}
		return line
	}
	if run.State == store.RunFailed {
		for _, st := range run.Steps {
			if st.State == store.StepFailed {
				return fmt.Sprintf("❌ opsbot could not go on at %s: %s", stepTitles[st.Name], st.Detail)
			}
		}
	}
	return ""
}

// reach says who has been told and paged, and what the public sees.
func (s *Service) reach(run store.Run, d record) string {
	paged := "not yet"
	if st := run.StepByName(stepPage); st != nil && st.State.Final() {
		paged = st.Detail
	}
	if d.Paging != nil {
		paged = describePaging(*d.Paging, d.OnCall)
	}
	public := "not yet"
	switch {
	case d.Published != nil:
		public = describePublication(d)
	case d.Awaiting != 0:
		public = fmt.Sprintf("waiting for %s's OK", chat.User(d.Commander))
	default:
		if st := run.StepByName(stepStatusPage); st != nil && st.State.Final() {
			public = st.Detail
		}
	}
	told := "not yet"
	if st := run.StepByName(stepStakeholders); st != nil && st.State.Final() {
		told = strings.Join(s.audience(d, s.severity(d)), ", ")
		if told == "" {
			told = "nobody (" + sevLabel(d.Severity) + " has no stakeholders)"
		}
	}
	return fmt.Sprintf("*Paged:* %s\n*Status page:* %s\n*Stakeholders:* %s", paged, public, told)
}

func deployList(deploys []recentDeploy) string {
	parts := make([]string, len(deploys))
	for i, dep := range deploys {
		parts[i] = fmt.Sprintf("%s at %s by %s", dep.Version, chat.Time(dep.At), chat.User(dep.By))
	}
	return strings.Join(parts, " · ")
}

// renderDeploys lists the recent deploys, each with a Roll back button for the deploy domain.
func (s *Service) renderDeploys(d record) chat.Message {
	env := s.cfg.Environment
	if len(d.Deploys) == 0 {
		return chat.Text("%sNo %s deploys in the 24 h before the incident — nothing to roll back from here.", drillMark(d), env)
	}
	text := fmt.Sprintf("%s*Recent %s deploys* (24 h before the incident) — roll one back if it caused this:", drillMark(d), env)
	blocks := []slack.Block{slack.NewSectionBlock(chat.Mrkdwn(text), nil, nil)}
	for i, dep := range d.Deploys {
		line := fmt.Sprintf("• *%s* deployed %s by %s", dep.Version, chat.Date(dep.At), chat.User(dep.By))
		blocks = append(blocks, slack.NewSectionBlock(chat.Mrkdwn(line), nil,
			slack.NewAccessory(button(actionRollback, dep.Env, "Roll back", slack.StyleDanger)),
			slack.SectionBlockOptionBlockID(fmt.Sprintf("deploy:%d", i))))
	}
	return chat.Message{Text: fmt.Sprintf("Recent %s deploys: %s", env, deployList(d.Deploys)), Blocks: blocks}
}

// checkItem is one line of the runbook's incident checklist ("Emergency Procedures"). Items
// with evidence are ticked by the bot when it did them; the others need a person.
type checkItem struct {
	ID       string
	Label    string
	evidence func(run store.Run, d record) string
}

var checklist = []checkItem{
	{ID: "assess", Label: "Assess impact and severity", evidence: func(_ store.Run, d record) string {
		return fmt.Sprintf("%s declared by %s", sevLabel(d.Severity), chat.User(d.Declarer))
	}},
	{ID: "notify", Label: "Notify stakeholders", evidence: chat.StepEvidence[record](stepStakeholders)},
	{ID: "respond", Label: "Begin incident response", evidence: func(_ store.Run, d record) string {
		if d.Invited == nil {
			return ""
		}
		return fmt.Sprintf("%s opened, commander %s", channelRef(d.ChannelID), chat.User(d.Commander))
	}},
	{ID: "statuspage", Label: "Update status page", evidence: func(_ store.Run, d record) string {
		if d.Published == nil {
			return ""
		}
		return describePublication(d)
	}},
	{ID: "users", Label: "Notify affected users", evidence: func(_ store.Run, d record) string {
		if d.Published == nil {
			return ""
		}
		return "status page subscribers notified"
	}},
	{ID: "team", Label: "Keep team informed", evidence: func(_ store.Run, d record) string {
		for _, e := range d.Entries {
			if e.Kind == entryUpdate {
				return fmt.Sprintf("update posted by %s", chat.User(e.By))
			}
		}
		return ""
	}},
	{ID: "fix", Label: "Implement fix or rollback"},
	{ID: "verify", Label: "Verify resolution"},
	{ID: "document", Label: "Document incident", evidence: chat.StepEvidence[record](stepPostmortem)},
}

func checkItemByID(id string) (checkItem, bool) {
	for _, it := range checklist {
		if it.ID == id {
			return it, true
		}
	}
	return checkItem{}, false
}

// renderChecklist shows the runbook's incident checklist: what the bot did is ticked with its
// evidence; what needs a person has a button that records who did it.
func (s *Service) renderChecklist(run store.Run, d record) chat.Message {
	done := 0
	var lines []slack.Block
	for _, it := range checklist {
		var line string
		var accessory *slack.Accessory
		t, ticked := d.Checklist[it.ID]
		evidence := ""
		if it.evidence != nil {
			evidence = it.evidence(run, d)
		}
		switch {
		case ticked:
			done++
			line = fmt.Sprintf("☑ %s — %s %s", it.Label, chat.User(t.By), chat.Time(t.At))
		case evidence != "":
			done++
			line = fmt.Sprintf("☑ %s — opsbot: %s", it.Label, evidence)
		default:
			line = "☐ " + it.Label
			if it.evidence == nil && !run.State.Final() {
				accessory = slack.NewAccessory(button(actionCheck, fmt.Sprintf("%d:%s", run.ID, it.ID), "Mark done", ""))
			}
		}
		lines = append(lines, slack.NewSectionBlock(chat.Mrkdwn(line), nil, accessory, slack.SectionBlockOptionBlockID("check:"+it.ID)))
	}
	header := fmt.Sprintf("%s*Incident checklist* (runbook: Emergency Procedures): %d/%d done", drillMark(d), done, len(checklist))
	blocks := append([]slack.Block{slack.NewSectionBlock(chat.Mrkdwn(header), nil, nil)}, lines...)
	return chat.Message{Text: fmt.Sprintf("Incident checklist: %d/%d done", done, len(checklist)), Blocks: blocks}
}

// renderEntry is an update as posted in the incident channel.
func renderEntry(d record, e entry) chat.Message {
	var text string
	switch e.Kind {
	case entrySeverity:
		text = fmt.Sprintf("%s⚖️ %s changed the severity to *%s*. %s", drillMark(d), chat.User(e.By), sevLabel(e.Severity), e.Text)
	case entryResolved:
		text = fmt.Sprintf("%s✅ *Resolved* by %s", drillMark(d), chat.User(e.By))
		if e.Text != "" {
			text += ": " + e.Text
		}
	default:
		text = fmt.Sprintf("%s📣 *%s* — %s (%s)", drillMark(d), titleCase(e.Phase), e.Text, chat.User(e.By))
	}
	return chat.Text("%s", text)
}

// renderStakeholderNote is what stakeholders read: short and self-contained — severity, what
// users see, what is being done, and when the next update comes.
func (s *Service) renderStakeholderNote(d record, e entry) string {
	sev := s.cfg.Severity(e.Severity)
	var lines []string
	var groups []string
	for _, g := range sev.Stakeholders.Groups {
		groups = append(groups, groupRef(g))
	}
	head := fmt.Sprintf("%s%s *%s · %s*", drillMark(d), sevIcon(d), sevLabel(e.Severity), d.Title)
	if len(groups) > 0 {
		head = strings.Join(groups, " ") + " " + head
	}
	switch e.Kind {
	case entryDeclared:
		head += " — declared, " + e.Phase
	case entrySeverity:
		head += " — severity changed to " + sevLabel(e.Severity)
	case entryResolved:
		head += " — resolved"
	default:
		head += " — " + e.Phase
	}
	lines = append(lines, head)
	if e.Text != "" && e.Kind != entrySeverity {
		lines = append(lines, e.Text)
	}
	facts := []string{"Commander " + chat.User(d.Commander)}
	if names := componentNames(d.Components); names != "" {
		facts = append(facts, "Affected: "+names)
	}
	if e.Kind == entryResolved {
		facts = append(facts, "Lasted "+chat.Duration(e.At.Sub(d.DeclaredAt)))
	} else if every := sev.ReminderEvery(); every > 0 {
		facts = append(facts, "Next update by "+chat.Time(e.At.Add(every)))
	}
	facts = append(facts, "Details: "+channelRef(d.ChannelID))
	lines = append(lines, strings.Join(facts, " · "))
	return strings.Join(lines, "\n")
}

// componentNames names the affected components.
func componentNames(components []component) string {
	names := make([]string, len(components))
	for i, c := range components {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// publishRule is the status page rule for an entry of the given severity.
func (s *Service) publishRule(d record, level int) string {
	if !d.CustomerFacing {
		return config.PublishOff
	}
	return s.cfg.Severity(level).StatusPage
}

func button(actionID, value, label string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, chat.Plain(label))
	b.Style = style
	return b
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
