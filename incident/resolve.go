package incident

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// resolvePagerDuty resolves the PagerDuty incident and reads when it was acknowledged.
func (s *Service) resolvePagerDuty(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	if d.Paging == nil {
		return runner.Skipped("nobody was paged through PagerDuty")
	}
	pd, why := s.dialPagerDuty(d)
	if pd == nil {
		return runner.Skipped(why)
	}
	if _, err := pd.Resolve(ctx, d.Paging.IncidentID); err != nil {
		return failed(x, err, "resolving the PagerDuty incident")
	}
	inc, err := pd.Incident(ctx, d.Paging.IncidentID)
	if err != nil {
		return failed(x, err, "reading the PagerDuty incident")
	}
	if err := updateRunData(ctx, x, func(d *record) {
		if !inc.AcknowledgedAt.IsZero() {
			d.Paging.AcknowledgedAt = &inc.AcknowledgedAt
		}
		resolved := inc.ResolvedAt
		if resolved.IsZero() {
			resolved = x.Now()
		}
		d.Paging.ResolvedAt = &resolved
	}); err != nil {
		return retryStore(err)
	}
	s.timeline(ctx, x.Run().ID, store.RunEvent{At: x.Now(), Kind: "page", Key: "page:resolved",
		Text: fmt.Sprintf("PagerDuty #%d resolved", d.Paging.Number)})
	detail := fmt.Sprintf("%s resolved", chat.Link(d.Paging.URL, fmt.Sprintf("PagerDuty #%d", d.Paging.Number)))
	if !inc.AcknowledgedAt.IsZero() {
		detail += fmt.Sprintf(" · acknowledged %s after paging", chat.Duration(inc.AcknowledgedAt.Sub(d.Paging.CreatedAt)))
	}
	return runner.Passed(detail)
}

// resolveStatusPage resolves the status page incident with the resolution's public text and
// sets its components back to operational. Text still awaiting an OK is withdrawn.
func (s *Service) resolveStatusPage(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	run := x.Run()
	if d.Awaiting != 0 {
		if err := s.upsert(ctx, run, d.ChannelID, fmt.Sprintf("publish:%d", d.Awaiting),
			chat.Text("%s~Status page text awaiting an OK~ — not published: the incident was resolved first.", drillMark(d))); err != nil {
			return retryStore(err)
		}
		if err := updateRunData(ctx, x, func(d *record) { d.Awaiting = 0 }); err != nil {
			return retryStore(err)
		}
	}
	if d.Published == nil {
		return runner.Skipped("nothing was published on the status page")
	}
	sp, why := s.dialStatuspage(d)
	if sp == nil {
		return runner.Skipped(why)
	}
	last := d.Entries[len(d.Entries)-1]
	inc, err := sp.ResolveIncident(ctx, d.Published.IncidentID, last.Public)
	if err != nil {
		return failed(x, err, "resolving the status page incident")
	}
	if err := updateRunData(ctx, x, func(d *record) {
		d.Published.Status = string(inc.Status)
		d.PublishedSeq, d.Offered = last.Seq, last.Seq
	}); err != nil {
		return retryStore(err)
	}
	s.timeline(ctx, run.ID, store.RunEvent{At: x.Now(), Kind: "statuspage", Key: "statuspage:resolved",
		Text: fmt.Sprintf("Status page: Resolved — %q", last.Public)})
	detail := "resolved on the " + chat.Link(d.Published.URL, "status page")
	if names := componentNames(d.Components); names != "" {
		detail += " · " + names + " operational again"
	}
	return runner.Passed(detail)
}

// tellResolution tells the stakeholders that the incident is resolved.
func (s *Service) tellResolution(ctx context.Context, x *runner.Exec) runner.Result {
	if res, stop := s.tell(ctx, x, true); stop {
		return res
	}
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	if err := s.syncTopic(ctx, x, d); err != nil {
		s.log.Warn().Err(err).Int64("run", x.Run().ID).Msg("setting the topic of a resolved incident failed")
	}
	audience := s.audience(d, s.severity(d))
	if len(audience) == 0 {
		return runner.Skipped(sevLabel(d.Severity) + " has no stakeholders to tell")
	}
	return runner.Passed("told " + strings.Join(audience, ", "))
}

// draftPostmortem posts the durations, the final timeline and the postmortem draft in the
// thread of the summary card.
func (s *Service) draftPostmortem(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	run := x.Run()
	ack, resolve := durations(d)
	if err := s.reply(ctx, run, d.ChannelID, "durations", chat.Text("%s⏱ *Time to acknowledge:* %s · *Time to resolve:* %s", drillMark(d), ack, resolve), false); err != nil {
		return retryStore(err)
	}
	events, err := s.opts.Store.ListRunEvents(ctx, run.ID)
	if err != nil {
		return retryStore(err)
	}
	if err := s.reply(ctx, run, d.ChannelID, "timeline", chat.Text("%s", renderTimeline(d, events)), false); err != nil {
		return retryStore(err)
	}
	if err := s.postPostmortem(ctx, run, d); err != nil {
		if _, ok := transient(err); ok {
			return retryStore(err)
		}
		return runner.Skipped("drafting the postmortem failed: " + clip(err.Error(), 200))
	}
	return runner.Passed("durations, timeline and postmortem draft in the card's thread (a GitHub issue is not opened: opsbot cannot open issues yet)")
}

// durations are the incident's times to acknowledge (the page) and to resolve.
func durations(d record) (ack, resolve string) {
	ack = "not paged"
	if p := d.Paging; p != nil {
		ack = "never acknowledged"
		if p.AcknowledgedAt != nil {
			ack = chat.Duration(p.AcknowledgedAt.Sub(p.CreatedAt)) + " (PagerDuty)"
		}
	}
	resolve = "not resolved"
	if r := d.Resolution; r != nil {
		resolve = chat.Duration(r.At.Sub(d.DeclaredAt))
	}
	return ack, resolve
}

// postPostmortem posts (or updates) the postmortem draft in the card's thread.
func (s *Service) postPostmortem(ctx context.Context, run store.Run, d record) error {
	events, err := s.opts.Store.ListRunEvents(ctx, run.ID)
	if err != nil {
		return fmt.Errorf("reading the timeline: %w", err)
	}
	names, err := s.userNames(ctx, d, events)
	if err != nil {
		return err
	}
	md := renderPostmortem(d, events, s.cfg.Environment, names)
	// The draft is plain Markdown; in Slack its <, > and & must still be escaped, or a
	// "<!channel>" someone typed would notify the channel from inside the code block.
	msg := chat.Text("%s📝 *Postmortem draft* — Markdown, to copy into your postmortem document and fill in:\n```\n%s\n```", drillMark(d), chat.Escape(md))
	return s.reply(ctx, run, d.ChannelID, "postmortem", msg, true)
}

// userNames reads the handles of everyone the postmortem mentions: a document outside Slack
// cannot show Slack's mentions.
func (s *Service) userNames(ctx context.Context, d record, events []store.RunEvent) (map[string]string, error) {
	var ids []string
	collect := func(text string) {
		for _, m := range userMention.FindAllStringSubmatch(text, -1) {
			ids = append(ids, m[1])
		}
	}
	ids = append(ids, d.Declarer, d.Commander)
	for _, id := range d.Roles {
		ids = append(ids, id)
	}
	for _, e := range d.Entries {
		ids = append(ids, e.By)
		collect(e.Text)
	}
	for _, f := range d.Followups {
		ids = append(ids, f.By)
		collect(f.Text)
	}
	for _, dep := range d.Deploys {
		ids = append(ids, dep.By)
	}
	for _, ev := range events {
		ids = append(ids, ev.Actor)
		collect(ev.Text)
	}
	names := map[string]string{}
	for _, id := range unique(ids) {
		u, err := s.opts.Slack.User(ctx, id)
		if err != nil {
			return nil, err
		}
		names[id] = u.Name
	}
	return names, nil
}

var userMention = regexp.MustCompile(`<@([UW][A-Z0-9]+)(?:\|[^>]*)?>`)

// renderPostmortem drafts the postmortem in Markdown: what the record knows is filled in, the
// rest is left for people, in italics.
func renderPostmortem(d record, events []store.RunEvent, env string, names map[string]string) string {
	name := func(id string) string {
		if n, ok := names[id]; ok && n != "" {
			return "@" + n
		}
		return "@" + id
	}
	text := func(s string) string {
		s = userMention.ReplaceAllStringFunc(s, func(m string) string { return name(userMention.FindStringSubmatch(m)[1]) })
		return strings.ReplaceAll(plainText(s), "```", "'''")
	}
	utc := func(t time.Time) string { return t.UTC().Format("15:04") }
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	title := plainText(incidentName(d))
	if d.Drill {
		title = "DRILL " + title
	}
	line("# Postmortem: %s", title)
	line("")
	line("## Summary")
	line("")
	if r := d.Resolution; r != nil && r.Summary != "" {
		line("%s", text(r.Summary))
	} else {
		line("_What happened, in two sentences._")
	}
	line("")
	line("- Severity: %s", sevLabel(d.Severity))
	line("- Declared %s UTC by %s", d.DeclaredAt.UTC().Format("Jan 2 2006 15:04"), name(d.Declarer))
	if r := d.Resolution; r != nil {
		line("- Resolved %s UTC by %s", utc(r.At), name(r.By))
	}
	line("- Commander: %s", name(d.Commander))
	for _, role := range sortedKeys(d.Roles) {
		line("- %s: %s", titleCase(role), name(d.Roles[role]))
	}
	line("- Slack channel: #%s", d.ChannelName)
	line("")
	line("## Impact")
	line("")
	if names := componentNames(d.Components); names != "" {
		line("- Affected components: %s", names)
	}
	line("- Customer-facing: %s", yesNo(d.CustomerFacing))
	if d.Published != nil {
		line("- Status page: published (%s)", d.Published.URL)
	} else {
		line("- Status page: not published")
	}
	ack, resolve := durations(d)
	line("- Time to acknowledge: %s", ack)
	line("- Time to resolve: %s", resolve)
	line("- _Who was affected, and how much._")
	line("")
	line("## Timeline (UTC)")
	line("")
	for _, ev := range events {
		line("- %s %s", utc(ev.At), text(ev.Text))
	}
	line("")
	line("## Deploys around the start")
	line("")
	if len(d.Deploys) == 0 {
		line("- No %s deploys in the 24 h before the incident.", env)
	}
	for _, dep := range d.Deploys {
		line("- %s to %s at %s UTC by %s (%s before the incident)", dep.Version, dep.Env, utc(dep.At), name(dep.By), chat.Duration(d.DeclaredAt.Sub(dep.At)))
	}
	for _, section := range []string{"What went well", "What went badly", "Where we got lucky"} {
		line("")
		line("## %s", section)
		line("")
		line("- _…_")
	}
	line("")
	line("## Follow-ups")
	line("")
	if len(d.Followups) == 0 {
		line("- _None recorded yet: /incident followup TEXT adds one._")
	}
	for _, f := range d.Followups {
		line("- [ ] %s (%s)", text(f.Text), name(f.By))
	}
	return strings.TrimRight(b.String(), "\n")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
