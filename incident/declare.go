package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/integrations/pagerduty"
	"github.com/opsbot-dev/opsbot/integrations/slackapi"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// The steps of an incident, in order: the declaration, the response (which runs until the
// incident is resolved), and what resolving does.
const (
	stepChannel           = "channel"
	stepMembers           = "members"
	stepCard              = "card"
	stepAnnounce          = "announce"
	stepPage              = "page"
	stepStatusPage        = "status_page"
	stepStakeholders      = "stakeholders"
	stepRespond           = "respond"
	stepResolvePagerDuty  = "resolve_pagerduty"
	stepResolveStatusPage = "resolve_status_page"
	stepTellResolved      = "tell_resolved"
	stepPostmortem        = "postmortem"
)

var allSteps = []string{
	stepChannel, stepMembers, stepCard, stepAnnounce, stepPage, stepStatusPage, stepStakeholders,
	stepRespond, stepResolvePagerDuty, stepResolveStatusPage, stepTellResolved, stepPostmortem,
}

// stepTitles are the names the summary card shows.
var stepTitles = map[string]string{
	stepChannel:           "Channel",
	stepMembers:           "People",
	stepCard:              "Summary & checklist",
	stepAnnounce:          "Announcement",
	stepPage:              "Paging",
	stepStatusPage:        "Status page",
	stepStakeholders:      "Stakeholders",
	stepRespond:           "Response",
	stepResolvePagerDuty:  "PagerDuty resolved",
	stepResolveStatusPage: "Status page resolved",
	stepTellResolved:      "Stakeholders told",
	stepPostmortem:        "Postmortem draft",
}

// workflow is the runner's view of an incident run.
type workflow struct{ s *Service }

func (w workflow) Changed(ctx context.Context, run store.Run) error { return w.s.refresh(ctx, run) }

func (w workflow) Steps(store.Run) []runner.Step {
	s := w.s
	fns := map[string]func(context.Context, *runner.Exec) runner.Result{
		stepChannel:           s.createChannel,
		stepMembers:           s.gatherPeople,
		stepCard:              s.pinCard,
		stepAnnounce:          s.announce,
		stepPage:              s.pageOnCall,
		stepStatusPage:        s.publishDeclaration,
		stepStakeholders:      s.tellDeclaration,
		stepRespond:           s.respond,
		stepResolvePagerDuty:  s.resolvePagerDuty,
		stepResolveStatusPage: s.resolveStatusPage,
		stepTellResolved:      s.tellResolution,
		stepPostmortem:        s.draftPostmortem,
	}
	steps := make([]runner.Step, len(allSteps))
	for i, name := range allSteps {
		steps[i] = runner.Step{Name: name, Run: s.audited(fns[name])}
	}
	return steps
}

// audited records what a step did in the audit log once it is done, so the log shows every
// step the bot took, not only what people asked for.
func (s *Service) audited(step func(context.Context, *runner.Exec) runner.Result) func(context.Context, *runner.Exec) runner.Result {
	return func(ctx context.Context, x *runner.Exec) runner.Result {
		res := step(ctx, x)
		if res.State().Final() && ctx.Err() == nil {
			if _, err := s.opts.Store.AppendAudit(ctx, store.AuditEntry{
				At: x.Now(), RunID: x.Run().ID, Action: "incident step " + x.StepName(),
				Outcome: string(res.State()), Detail: res.Detail(),
			}); err != nil {
				s.log.Warn().Err(err).Str("step", x.StepName()).Msg("auditing a step failed")
			}
		}
		return res
	}
}

// maxAttempts bounds how often a step tries a vendor that keeps failing: an incident must go on
// without PagerDuty or the status page rather than wait for them.
const maxAttempts = 6

// failed turns an error into the step's result: a transient one is tried again, after the wait
// the vendor asked for or a growing backoff, until maxAttempts; then, or for an error that will
// not go away, the step is skipped saying what failed and the incident goes on.
func failed(x *runner.Exec, err error, doing string) runner.Result {
	return failedOr(x, err, doing, "")
}

// failedOr is failed, saying what people can do instead once opsbot gives up ("" for nothing).
func failedOr(x *runner.Exec, err error, doing, instead string) runner.Result {
	if wait, ok := retryable(x, err); ok {
		return runner.Retry(fmt.Errorf("%s: %w", doing, err), wait)
	}
	detail := fmt.Sprintf("%s failed: %s", doing, clip(err.Error(), 300))
	if instead != "" {
		detail += " — " + instead
	}
	return runner.Skipped(detail)
}

// retryable says whether to try again after err, and when.
func retryable(x *runner.Exec, err error) (time.Duration, bool) {
	n := 0
	run := x.Run()
	if st := run.StepByName(x.StepName()); st != nil {
		n = st.Attempts
	}
	wait, ok := transient(err)
	if !ok || n >= maxAttempts-1 {
		return 0, false
	}
	return max(wait, min(5*time.Second<<n, 5*time.Minute)), true
}

// errNotYet is an outside system that has not caught up yet (PagerDuty opens the incident for
// an event a moment after taking it): looking again later helps.
var errNotYet = errors.New("not there yet")

// transient reports whether err may go away by itself, and how long its source asked to wait.
func transient(err error) (time.Duration, bool) {
	var vendor interface {
		Retryable() bool
		RetryAfter() time.Duration
	}
	switch {
	case errors.As(err, &vendor): // PagerDuty and Statuspage say so themselves
		return vendor.RetryAfter(), vendor.Retryable()
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, errNotYet):
		return 0, true
	}
	return slackapi.RetryAfter(err)
}

// retryStore is the result of a step whose record could not be written: it runs again.
func retryStore(err error) runner.Result { return runner.Retry(err, 5*time.Second) }

// createChannel creates #inc-YYYYMMDD-slug. The name is chosen (a free one) and recorded
// before the channel is created, so a step that runs again after a crash finds the channel it
// created instead of making a second one.
func (s *Service) createChannel(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	if d.ChannelID != "" {
		return runner.Passed(channelRef(d.ChannelID))
	}
	var chosen struct {
		Name string `json:"name"`
	}
	if err := x.StepData(&chosen); err != nil {
		return runner.Failed(err.Error())
	}
	if chosen.Name == "" {
		name, err := s.freeChannelName(ctx, d.ChannelName)
		if err != nil {
			return channelFailed(x, err, "finding a free channel name")
		}
		chosen.Name = name
		if err := x.SaveStepData(ctx, chosen); err != nil {
			return retryStore(err)
		}
	}
	ch, err := s.opts.Slack.CreateChannel(ctx, chosen.Name)
	if err != nil {
		return channelFailed(x, err, "creating #"+chosen.Name)
	}
	if err := x.Update(ctx, func(r *store.Run) error {
		d, err := decodeData(*r)
		if err != nil {
			return err
		}
		d.ChannelID, d.ChannelName = ch.ID, ch.Name
		r.Channel = ch.ID
		return encodeData(r, d)
	}); err != nil {
		return retryStore(err)
	}
	return runner.Passed(channelRef(ch.ID))
}

// channelFailed is failed for the channel, without which an incident cannot be run.
func channelFailed(x *runner.Exec, err error, doing string) runner.Result {
	if wait, ok := retryable(x, err); ok {
		return runner.Retry(fmt.Errorf("%s: %w", doing, err), wait)
	}
	return runner.Failed(fmt.Sprintf("%s failed: %s", doing, clip(err.Error(), 300)))
}

// freeChannelName is base, or base-2, base-3 … when a channel has that name already (a second
// incident with the same title on the same day).
func (s *Service) freeChannelName(ctx context.Context, base string) (string, error) {
	name := base
	for n := 2; n <= 20; n++ {
		_, taken, err := s.opts.Slack.FindChannel(ctx, name)
		if err != nil || !taken {
			return name, err
		}
		suffix := fmt.Sprintf("-%d", n)
		name = clip(base, maxChannelName-len(suffix)) + suffix
	}
	return "", fmt.Errorf("#%s and the next 18 numbered names are all taken", base)
}

// maxChannelName is Slack's limit on a channel name.
const maxChannelName = 80

// channelName is the channel an incident asks for: prefix, the day it was declared (UTC),
// and its title as a slug, e.g. inc-20261125-checkout-errors; a drill's says so.
func channelName(prefix string, declared time.Time, title string, drill bool) string {
	if drill {
		prefix += "drill-"
	}
	name := prefix + declared.UTC().Format("20060102")
	if slug := slugify(plainText(title)); slug != "" {
		name += "-" + slug
	}
	return strings.TrimRight(clip(name, maxChannelName), "-")
}

// slugify keeps lower-case letters and digits and joins the words with "-".
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

// gatherPeople sets the channel's topic and invites the declarer, whoever is on call in
// PagerDuty (matched to Slack by email) and the severity's responders.
func (s *Service) gatherPeople(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	if err := s.syncTopic(ctx, x, d); err != nil {
		return failed(x, err, "setting the topic")
	}
	people := []string{d.Declarer}
	var notes []string
	onCall, note, err := s.onCallUsers(ctx, d)
	if err != nil {
		if _, ok := retryable(x, err); ok {
			return failed(x, err, "reading who is on call")
		}
		note = "on-call unknown: " + clip(err.Error(), 200)
	}
	if note != "" {
		notes = append(notes, note)
	}
	people = append(people, onCall...)
	sev := s.severity(d)
	people = append(people, sev.Responders.Users...)
	for _, g := range sev.Responders.Groups {
		members, err := s.opts.Slack.GroupMembers(ctx, g)
		if err != nil {
			return failed(x, err, "reading the responders' user group")
		}
		people = append(people, members...)
	}
	people = unique(people)
	if err := s.opts.Slack.Invite(ctx, d.ChannelID, people...); err != nil {
		return failed(x, err, "inviting people")
	}
	if err := updateRunData(ctx, x, func(d *record) { d.Invited, d.OnCall = people, onCall }); err != nil {
		return retryStore(err)
	}
	detail := "invited " + mentions(people)
	if len(onCall) > 0 {
		detail += " (on call: " + mentions(onCall) + ")"
	}
	for _, n := range notes {
		detail += " · " + n
	}
	return runner.Passed(detail)
}

// onCallUsers are the Slack users on call for the configured escalation policy, and a note on
// whoever could not be found.
func (s *Service) onCallUsers(ctx context.Context, d record) ([]string, string, error) {
	if s.opts.PagerDuty == nil {
		return nil, "on-call not looked up: PagerDuty is not configured", nil
	}
	policy := s.cfg.PagerDuty.EscalationPolicyID
	if policy == "" {
		return nil, "on-call not looked up: no incidents.pagerduty.escalation_policy_id", nil
	}
	people, err := s.opts.PagerDuty.OnCall(ctx, policy)
	if err != nil {
		return nil, "", err
	}
	var ids, missing []string
	for _, p := range people {
		id, err := s.opts.Slack.UserByEmail(ctx, p.Email)
		if errors.Is(err, slackapi.ErrNotFound) {
			missing = append(missing, p.Name)
			continue
		}
		if err != nil {
			return nil, "", err
		}
		ids = append(ids, id)
	}
	if len(missing) > 0 {
		return ids, "no Slack account found for " + strings.Join(missing, ", ") + " (on call in PagerDuty)", nil
	}
	return ids, "", nil
}

// syncTopic sets the channel's topic to the incident's state, unless it says that already.
func (s *Service) syncTopic(ctx context.Context, x *runner.Exec, d record) error {
	topic := topicOf(d)
	if d.Topic == topic {
		return nil
	}
	if err := s.opts.Slack.SetTopic(ctx, d.ChannelID, topic); err != nil {
		return err
	}
	return updateRunData(ctx, x, func(d *record) { d.Topic = topic })
}

// topicOf is the channel topic: severity, status and commander at a glance.
func topicOf(d record) string {
	topic := fmt.Sprintf("%s · %s · commander %s · %s", sevLabel(d.Severity), d.Phase, chat.User(d.Commander), plainText(d.Title))
	if d.Drill {
		topic = "DRILL · " + topic
	}
	return clip(topic, 250)
}

// pinCard posts the summary card and the incident checklist in the channel and pins them, and
// lists the recent production deploys, each with a Roll back button.
func (s *Service) pinCard(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	var listed struct {
		Deploys bool            `json:"deploys"`
		Pinned  map[string]bool `json:"pinned,omitempty"` // so a poll does not pin again
	}
	if err := x.StepData(&listed); err != nil {
		return runner.Failed(err.Error())
	}
	if !listed.Deploys {
		deploys, err := s.recentDeploys(ctx, d.DeclaredAt)
		if err != nil {
			return retryStore(err)
		}
		listed.Deploys = true
		if err := x.Update(ctx, func(r *store.Run) error {
			d, err := decodeData(*r)
			if err != nil {
				return err
			}
			d.Deploys = deploys
			if err := encodeData(r, d); err != nil {
				return err
			}
			return setStepData(r, x.StepName(), listed)
		}); err != nil {
			return retryStore(err)
		}
		d.Deploys = deploys
	}
	run := x.Run()
	if err := s.refresh(ctx, run); err != nil {
		return retryStore(err)
	}
	if err := s.post(ctx, run, d.ChannelID, "deploys", s.renderDeploys(d)); err != nil {
		return retryStore(err)
	}
	for _, key := range []string{"card", "checklist"} {
		if listed.Pinned[key] {
			continue
		}
		m, err := s.opts.Store.GetOutbox(ctx, msgKey(run, key))
		if err != nil {
			return retryStore(err)
		}
		switch {
		case m.State == store.OutboxDead:
			return runner.Skipped(fmt.Sprintf("Slack refused the %s: %s", key, m.LastError))
		case m.TS == "":
			return runner.Poll(x.Now(), time.Second, "waiting for Slack to show the card")
		}
		if err := s.opts.Slack.Pin(ctx, d.ChannelID, m.TS); err != nil {
			return failed(x, err, "pinning the "+key)
		}
		if listed.Pinned == nil {
			listed.Pinned = map[string]bool{}
		}
		listed.Pinned[key] = true
		if err := x.SaveStepData(ctx, listed); err != nil {
			return retryStore(err)
		}
	}
	return runner.Passed(fmt.Sprintf("pinned · %d %s deploys in the 24 h before", len(d.Deploys), s.cfg.Environment))
}

// recentDeploys are the deploys to the incident environment that succeeded in the 24 h before
// at, newest first.
func (s *Service) recentDeploys(ctx context.Context, at time.Time) ([]recentDeploy, error) {
	runs, err := s.opts.Store.ListRuns(ctx, store.RunQuery{
		Kinds: []store.RunKind{store.KindDeploy, store.KindRollback}, Env: s.cfg.Environment,
		States: []store.RunState{store.RunSucceeded}, Since: at.Add(-24 * time.Hour), Limit: 10,
	})
	if err != nil {
		return nil, fmt.Errorf("listing recent deploys: %w", err)
	}
	deploys := []recentDeploy{}
	for _, r := range runs {
		finished := r.CreatedAt
		if r.FinishedAt != nil {
			finished = *r.FinishedAt
		}
		if finished.After(at) {
			continue
		}
		deploys = append(deploys, recentDeploy{RunID: r.ID, Version: deployedVersion(r), Env: r.Env, By: r.RequestedBy, At: finished})
	}
	return deploys, nil
}

// deployedVersion reads the version from a deploy run's record, which the deploy package
// keeps as {"version": …}; the run's title says it too.
func deployedVersion(r store.Run) string {
	var d struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(r.Data, &d) == nil && d.Version != "" {
		return d.Version
	}
	return r.Title
}

// announce posts the incident in the incidents channel; the announcement is kept up to date.
func (s *Service) announce(ctx context.Context, x *runner.Exec) runner.Result {
	channel := s.opts.Config.Slack.IncidentsChannel
	if channel == "" {
		return runner.Skipped("no incidents channel is configured (slack.incidents_channel)")
	}
	if err := s.refresh(ctx, x.Run()); err != nil {
		return retryStore(err)
	}
	return runner.Passed("in " + channelRef(channel))
}

// pageOnCall pages the on-call through PagerDuty when the severity says so.
func (s *Service) pageOnCall(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	sev := s.severity(d)
	if !sev.Pages() {
		return runner.Skipped(sevLabel(d.Severity) + " does not page")
	}
	pd, why := s.dialPagerDuty(d)
	if pd == nil {
		return runner.Skipped(why)
	}
	p, err := s.ensurePaged(ctx, x, pd)
	if err != nil {
		// Nobody may stay unpaged because PagerDuty was down for a few minutes: the card
		// says how to page by hand.
		return failedOr(x, err, "paging the on-call", "page them yourself: /incident page @PERSON")
	}
	return runner.Passed(describePaging(p, d.OnCall))
}

// ensurePaged opens the PagerDuty incident on the configured service, which pages whoever is
// on call, unless it is open already: the key makes a repeated trigger find the first one.
func (s *Service) ensurePaged(ctx context.Context, x *runner.Exec, pd PagerDuty) (paging, error) {
	d, err := decodeData(x.Run())
	if err != nil {
		return paging{}, err
	}
	if d.Paging != nil {
		return *d.Paging, nil
	}
	run := x.Run()
	sev := s.severity(d)
	key := fmt.Sprintf("opsbot-incident-%d", run.ID)
	title := plainText(runTitle(d))
	var inc pagerduty.Incident
	if s.cfg.PagerDuty.Trigger == "event" {
		if _, err := pd.TriggerEvent(ctx, pagerduty.Event{
			RoutingKey: s.cfg.PagerDuty.RoutingKey, DedupKey: key, Summary: title,
			Severity: eventSeverity[d.Severity], Source: "opsbot " + d.ChannelName,
		}); err != nil {
			return paging{}, err
		}
		inc, err = pd.IncidentByKey(ctx, s.cfg.PagerDuty.ServiceID, key)
		if errors.Is(err, pagerduty.ErrNotFound) {
			return paging{}, fmt.Errorf("PagerDuty took the event but shows no incident for it: %w", errNotYet)
		}
		if err != nil {
			return paging{}, err
		}
	} else {
		body := fmt.Sprintf("Declared in Slack by opsbot: #%s.", d.ChannelName)
		if d.Description != "" {
			body = plainText(d.Description) + "\n\n" + body
		}
		if inc, err = pd.TriggerIncident(ctx, pagerduty.Trigger{
			ServiceID: s.cfg.PagerDuty.ServiceID, Title: title, Urgency: sev.Urgency, IncidentKey: key, Body: body,
		}); err != nil {
			return paging{}, err
		}
	}
	p := paging{IncidentID: inc.ID, Number: inc.Number, URL: inc.URL, Urgency: inc.Urgency, CreatedAt: inc.CreatedAt}
	if !inc.AcknowledgedAt.IsZero() {
		p.AcknowledgedAt = &inc.AcknowledgedAt
	}
	if err := updateRunData(ctx, x, func(d *record) { d.Paging = &p }); err != nil {
		return paging{}, err
	}
	s.timeline(ctx, run.ID, store.RunEvent{At: x.Now(), Kind: "page", Key: "page:on-call",
		Text: fmt.Sprintf("Paged the on-call through PagerDuty (incident #%d, %s urgency)", p.Number, p.Urgency)})
	return p, nil
}

// eventSeverity maps a severity to the Events API's, which the service's rules turn into urgency.
var eventSeverity = map[int]string{1: "critical", 2: "error", 3: "warning", 4: "info"}

func describePaging(p paging, onCall []string) string {
	who := "the on-call"
	if len(onCall) > 0 {
		who = mentions(onCall)
	}
	detail := fmt.Sprintf("paged %s · %s, %s urgency", who, chat.Link(p.URL, fmt.Sprintf("PagerDuty #%d", p.Number)), p.Urgency)
	if p.AcknowledgedAt != nil {
		detail += ", acknowledged " + chat.Time(*p.AcknowledgedAt)
	}
	return detail
}

// publishDeclaration offers the declaration to the status page under the severity's rule.
func (s *Service) publishDeclaration(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	if rule := s.publishRule(d, d.Severity); rule == config.PublishOff {
		if err := updateRunData(ctx, x, func(d *record) { d.Offered = max(d.Offered, 1) }); err != nil {
			return retryStore(err)
		}
		return runner.Skipped(s.whyNotPublished(d))
	}
	if _, why := s.dialStatuspage(d); why != "" {
		return runner.Skipped(why)
	}
	if res, stop := s.offerPublic(ctx, x, false); stop {
		return res
	}
	d, err = decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	if d.Awaiting != 0 {
		return runner.Passed(fmt.Sprintf("waiting for %s's OK to publish (see the channel)", chat.User(d.Commander)))
	}
	if d.Published == nil && d.PublishFailed != "" {
		return runner.Skipped(fmt.Sprintf("publishing on the status page failed: %s — the next /incident update tries again", d.PublishFailed))
	}
	return runner.Passed(describePublication(d))
}

// whyNotPublished says why an incident is not on the status page.
func (s *Service) whyNotPublished(d record) string {
	if !d.CustomerFacing {
		return "not customer-facing: not published"
	}
	return fmt.Sprintf("%s is not published (status_page: off)", sevLabel(d.Severity))
}

func describePublication(d record) string {
	if d.Published == nil {
		return "not published"
	}
	return fmt.Sprintf("published %q · %s", titleCase(d.Published.Status), chat.Link(d.Published.URL, "status page"))
}

// tellDeclaration tells the severity's stakeholders.
func (s *Service) tellDeclaration(ctx context.Context, x *runner.Exec) runner.Result {
	if res, stop := s.tell(ctx, x, false); stop {
		return res
	}
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	audience := s.audience(d, s.severity(d))
	if len(audience) == 0 {
		return runner.Skipped(sevLabel(d.Severity) + " has no stakeholders to tell")
	}
	return runner.Passed("told " + strings.Join(audience, ", "))
}

// audience names who a severity's stakeholder messages reach.
func (s *Service) audience(d record, sev *config.Severity) []string {
	var who []string
	for _, c := range sev.Stakeholders.Channels {
		who = append(who, channelRef(c))
	}
	for _, g := range sev.Stakeholders.Groups {
		who = append(who, groupRef(g))
	}
	for _, u := range sev.Stakeholders.Users {
		who = append(who, chat.User(u))
	}
	if sev.PostsPagerDutyStatusUpdate() && d.Paging != nil {
		if _, why := s.dialPagerDuty(d); why == "" {
			who = append(who, "PagerDuty subscribers")
		}
	}
	return who
}

func unique(ids []string) []string {
	var out []string
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func mentions(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = chat.User(id)
	}
	return strings.Join(parts, ", ")
}
