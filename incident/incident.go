// Package incident runs the runbook's emergency procedure from Slack. /incident declare starts
// a durable incident run (package runner) that creates the incident channel, invites the
// declarer, the on-call and the severity's responders, pins a summary card and the incident
// checklist, lists the recent production deploys with Roll back buttons, announces the
// incident, pages through PagerDuty, publishes on the status page and tells the stakeholders —
// each as the severity's rules say. While it runs it posts updates, re-applies a changed
// severity, pages more people, reminds a silent commander and keeps a timeline, pins
// included. Resolving it resolves PagerDuty and the status page, tells everyone, posts the
// durations and drafts the postmortem.
package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/integrations/pagerduty"
	"github.com/opsbot-dev/opsbot/integrations/slackapi"
	"github.com/opsbot-dev/opsbot/integrations/statuspage"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// Slack is what incidents ask of the Slack Web API besides posting, which goes through the
// outbox (integrations/slackapi.Client). Each call is safe to repeat.
type Slack interface {
	CreateChannel(ctx context.Context, name string) (slackapi.Channel, error)
	FindChannel(ctx context.Context, name string) (slackapi.Channel, bool, error)
	SetTopic(ctx context.Context, channelID, topic string) error
	Invite(ctx context.Context, channelID string, userIDs ...string) error
	Pin(ctx context.Context, channelID, ts string) error
	UserByEmail(ctx context.Context, email string) (string, error)
	User(ctx context.Context, userID string) (slackapi.User, error)
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
	Message(ctx context.Context, channelID, ts string) (slackapi.Message, error)
	Self(ctx context.Context) (string, error)
	OpenModal(ctx context.Context, triggerID string, view slack.ModalViewRequest) (string, error)
}

// PagerDuty is what incidents ask of PagerDuty (integrations/pagerduty.Client).
type PagerDuty interface {
	TriggerIncident(ctx context.Context, t pagerduty.Trigger) (pagerduty.Incident, error)
	TriggerEvent(ctx context.Context, e pagerduty.Event) (string, error)
	IncidentByKey(ctx context.Context, serviceID, key string) (pagerduty.Incident, error)
	Incident(ctx context.Context, id string) (pagerduty.Incident, error)
	Resolve(ctx context.Context, id string) (pagerduty.Incident, error)
	OnCall(ctx context.Context, escalationPolicyID string) ([]pagerduty.Person, error)
	UserByEmail(ctx context.Context, email string) (pagerduty.Person, error)
	AddResponder(ctx context.Context, incidentID string, target pagerduty.Target, message string) error
	PostStatusUpdate(ctx context.Context, incidentID, message string) error
}

// Statuspage is what incidents ask of the status page (integrations/statuspage.Client).
type Statuspage interface {
	CreateIncident(ctx context.Context, n statuspage.NewIncident) (statuspage.Incident, error)
	UpdateIncident(ctx context.Context, id string, ch statuspage.Change) (statuspage.Incident, error)
	ResolveIncident(ctx context.Context, id, body string) (statuspage.Incident, error)
	Components(ctx context.Context) ([]statuspage.Component, error)
}

// Roles answers who holds a role (access.Roles).
type Roles interface {
	Has(ctx context.Context, userID string, role config.Role) (bool, error)
	Holders(role config.Role) string
}

// Options configure a Service.
type Options struct {
	Store store.Store
	Slack Slack
	// PagerDuty and Statuspage are nil when not configured; their steps are then skipped,
	// saying so.
	PagerDuty  PagerDuty
	Statuspage Statuspage
	Roles      Roles
	Config     *config.Config
	Clock      clock.Clock
	Log        zerolog.Logger
	// Wake nudges the runner after a command left work for an incident.
	Wake func()
	// SandboxPagerDuty and SandboxStatuspage say the integration is the sandbox's: only then
	// does a drill use it. A drill skips a real one, visibly.
	SandboxPagerDuty, SandboxStatuspage bool
}

// Service declares and steers incidents. Its workflow is run by a runner.Runner.
type Service struct {
	opts Options
	cfg  *config.Incidents
	log  zerolog.Logger
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Slack == nil || opts.Roles == nil || opts.Config == nil {
		return nil, errors.New("incident: a store, Slack, roles and the configuration are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Wake == nil {
		opts.Wake = func() {}
	}
	return &Service{opts: opts, cfg: &opts.Config.Incidents, log: opts.Log.With().Str("component", "incident").Logger()}, nil
}

// Workflows are the run kinds this service owns, for the runner.
func (s *Service) Workflows() map[store.RunKind]runner.Workflow {
	return map[store.RunKind]runner.Workflow{store.KindIncident: workflow{s}}
}

func (s *Service) now() time.Time { return s.opts.Clock.Now() }

// Phases of an incident, as the status page names them.
const (
	phaseInvestigating = "investigating"
	phaseIdentified    = "identified"
	phaseMonitoring    = "monitoring"
	phaseResolved      = "resolved"
)

// record is the domain record of an incident run (store.Run.Data). Text fields hold Slack
// mrkdwn that is safe to post: the commands package sanitizes what people type.
type record struct {
	Title          string            `json:"title"`
	Description    string            `json:"description,omitempty"`
	Severity       int               `json:"severity"`
	Phase          string            `json:"phase"`
	Drill          bool              `json:"drill,omitempty"`
	CustomerFacing bool              `json:"customer_facing"`
	Components     []component       `json:"components,omitempty"` // affected, on the status page
	Declarer       string            `json:"declarer"`
	Commander      string            `json:"commander"`
	Roles          map[string]string `json:"roles,omitempty"` // role name → user ID
	RoleChanges    int               `json:"role_changes,omitempty"`
	DeclaredAt     time.Time         `json:"declared_at"`

	ChannelName string   `json:"channel_name"` // the name asked for; Slack may already have it
	ChannelID   string   `json:"channel_id,omitempty"`
	Topic       string   `json:"topic,omitempty"` // as last set
	Invited     []string `json:"invited,omitempty"`
	OnCall      []string `json:"on_call,omitempty"` // Slack IDs of whoever was on call

	Paging    *paging         `json:"paging,omitempty"`
	Published *publication    `json:"published,omitempty"`
	Deploys   []recentDeploy  `json:"deploys,omitempty"`
	Checklist map[string]tick `json:"checklist,omitempty"`

	// Entries are what was said, in order: the declaration, updates, severity changes and the
	// resolution. Each one is posted, told to stakeholders and offered to the status page; the
	// cursors below say how far each of those has got, so a step that runs again after a
	// crash picks up where it was.
	Entries []entry `json:"entries"`
	// Told: entries told to the stakeholders in Slack, through this Seq.
	Told int `json:"told"`
	// PagerDutyTold: entries posted as PagerDuty status updates through this Seq. PagerDuty
	// cannot list status updates, so this is recorded before each is posted: a crash loses
	// one rather than sending it twice.
	PagerDutyTold int `json:"pagerduty_told"`
	// Offered: entries handled under the status page's publishing rule, through this Seq.
	Offered int `json:"offered"`
	// Awaiting is the entry whose public text waits for the commander's OK (0: none).
	Awaiting int `json:"awaiting,omitempty"`
	// Approved is the entry the commander said may be published, and by whom.
	Approved *approval `json:"approved,omitempty"`
	// PublishedSeq: the newest entry published on the status page.
	PublishedSeq int `json:"published_seq"`
	// PublishFailed is why the last publication was given up on ("" once one succeeds).
	PublishFailed string `json:"publish_failed,omitempty"`

	Pages        []pageRequest `json:"pages,omitempty"`
	NextReminder *time.Time    `json:"next_reminder,omitempty"`
	Reminders    int           `json:"reminders,omitempty"`
	Followups    []followup    `json:"followups,omitempty"`
	Resolution   *resolution   `json:"resolution,omitempty"`
	// Rev counts the commands that left work for the respond step, which compares it before
	// it goes back to sleep.
	Rev int `json:"rev"`
}

// entry is one thing said about the incident.
type entry struct {
	Seq      int       `json:"seq"`
	Kind     string    `json:"kind"` // entryDeclared, entryUpdate, entrySeverity, entryResolved
	Phase    string    `json:"phase"`
	Severity int       `json:"severity"`
	Text     string    `json:"text"`             // as posted in Slack
	Public   string    `json:"public,omitempty"` // the exact status page text; "" changes no text
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

// Kinds of entries.
const (
	entryDeclared = "declared"
	entryUpdate   = "update"
	entrySeverity = "severity"
	entryResolved = "resolved"
)

// component is a status page component.
type component struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// paging is the PagerDuty incident that paged the on-call.
type paging struct {
	IncidentID     string     `json:"incident_id"`
	Number         uint       `json:"number"`
	URL            string     `json:"url"`
	Urgency        string     `json:"urgency"`
	CreatedAt      time.Time  `json:"created_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
}

// publication is the status page incident.
type publication struct {
	IncidentID string `json:"incident_id"`
	URL        string `json:"url"`
	Status     string `json:"status"`
}

type approval struct {
	Seq int       `json:"seq"`
	By  string    `json:"by"`
	At  time.Time `json:"at"`
}

// pageRequest is a person or a service someone asked to page (/incident page).
type pageRequest struct {
	Seq     int       `json:"seq"`
	UserID  string    `json:"user_id,omitempty"`
	Service string    `json:"service,omitempty"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Done    bool      `json:"done,omitempty"`
	Outcome string    `json:"outcome,omitempty"`
}

// recentDeploy is a production deploy from before the incident, offered for rollback.
type recentDeploy struct {
	RunID   int64     `json:"run_id"`
	Version string    `json:"version"`
	Env     string    `json:"env"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// tick is a checklist item done, by a person or by the bot with its evidence.
type tick struct {
	By       string    `json:"by,omitempty"`
	At       time.Time `json:"at"`
	Evidence string    `json:"evidence,omitempty"`
}

type followup struct {
	Text string    `json:"text"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
}

type resolution struct {
	Summary string    `json:"summary,omitempty"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

func decodeData(run store.Run) (record, error) { return store.DecodeRecord[record](run) }

func encodeData(run *store.Run, d record) error { return store.EncodeRecord(run, d) }

// updateData records a change to a run's record, re-reading it first (optimistic concurrency).
func updateData(ctx context.Context, st store.Store, id int64, mutate func(*store.Run, *record) error) (store.Run, record, error) {
	return store.UpdateRecord(ctx, st, id, mutate)
}

// updateRunData records a change to the incident from inside a step.
func updateRunData(ctx context.Context, x *runner.Exec, change func(*record)) error {
	return runner.UpdateRecord(ctx, x, change)
}

// entry returns the entry with seq.
func (d *record) entry(seq int) (entry, bool) {
	for _, e := range d.Entries {
		if e.Seq == seq {
			return e, true
		}
	}
	return entry{}, false
}

// addEntry appends an entry and returns it.
func (d *record) addEntry(e entry) entry {
	e.Seq = len(d.Entries) + 1
	d.Entries = append(d.Entries, e)
	return e
}

// latestPublic is the newest entry with public text.
func (d *record) latestPublic() (entry, bool) {
	for i := len(d.Entries) - 1; i >= 0; i-- {
		if d.Entries[i].Public != "" {
			return d.Entries[i], true
		}
	}
	return entry{}, false
}

// severity is the configured rule of the incident's current severity.
func (s *Service) severity(d record) *config.Severity { return s.cfg.Severity(d.Severity) }

// sevLabel is "SEV1".
func sevLabel(level int) string { return fmt.Sprintf("SEV%d", level) }

// incidentName is how messages name an incident: "SEV1 · Checkout errors".
func incidentName(d record) string { return sevLabel(d.Severity) + " · " + d.Title }

// runTitle is the run's one-line title.
func runTitle(d record) string {
	if d.Drill {
		return "[DRILL] " + incidentName(d)
	}
	return incidentName(d)
}

// dialPagerDuty returns the PagerDuty client an incident may use, or why it may not.
func (s *Service) dialPagerDuty(d record) (PagerDuty, string) {
	switch {
	case s.opts.PagerDuty == nil:
		return nil, "PagerDuty is not configured (set PAGERDUTY_TOKEN and incidents.pagerduty)"
	case d.Drill && !s.opts.SandboxPagerDuty:
		return nil, "drill — not sent to real pagers"
	}
	return s.opts.PagerDuty, ""
}

// dialStatuspage returns the status page client an incident may use, or why it may not.
func (s *Service) dialStatuspage(d record) (Statuspage, string) {
	switch {
	case s.opts.Statuspage == nil:
		return nil, "the status page is not configured (set STATUSPAGE_API_KEY and incidents.statuspage.page_id)"
	case d.Drill && !s.opts.SandboxStatuspage:
		return nil, "drill — not published on the real status page"
	}
	return s.opts.Statuspage, ""
}

// setStepData records a step's own data inside a larger change to its run.
func setStepData(r *store.Run, step string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding data of step %s: %w", step, err)
	}
	r.StepByName(step).Data = data
	return nil
}
