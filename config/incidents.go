package config

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// Incidents says how /incident runs the runbook's emergency procedure: where the incident
// channel is made, who may declare, which PagerDuty service and status page are used, and what
// each severity does (paging, status page, reminders, who hears about it).
type Incidents struct {
	// ChannelPrefix starts every incident channel's name: #inc-20261125-checkout-errors
	// (default "inc-").
	ChannelPrefix string `yaml:"channel_prefix"`
	// Declare is who may declare an incident: "anyone" (default) or a role.
	Declare Role `yaml:"declare"`
	// Environment is the environment whose recent deploys an incident lists with a Roll back
	// button (default deploy.default_environment).
	Environment string `yaml:"environment"`
	// Roles are the names /incident role hands out, besides the commander (default comms, scribe).
	Roles []string `yaml:"roles"`
	// PagerDuty is the service incidents page and the policy whose on-call joins the channel.
	PagerDuty IncidentPagerDuty `yaml:"pagerduty"`
	// Statuspage is the public status page incidents are published on.
	Statuspage IncidentStatuspage `yaml:"statuspage"`
	// Severities are the rules of sev1 … sev4; each setting left out takes its default.
	Severities map[string]*Severity `yaml:"severities"`
}

// IncidentPagerDuty names what opsbot uses in the PagerDuty account (the token is PAGERDUTY_TOKEN).
type IncidentPagerDuty struct {
	// ServiceID is the service incidents are opened on (required with PAGERDUTY_TOKEN).
	ServiceID string `yaml:"service_id"`
	// EscalationPolicyID is the policy whose on-call is invited into every incident channel.
	EscalationPolicyID string `yaml:"escalation_policy_id"`
	// From is the email of the PagerDuty user opsbot acts as (required with PAGERDUTY_TOKEN).
	From string `yaml:"from"`
	// Trigger is how the on-call is paged: "incident" (an incident on ServiceID, default) or
	// "event" (an Events API v2 trigger to RoutingKey with a dedup key).
	Trigger string `yaml:"trigger"`
	// RoutingKey is the service's Events API v2 integration key (Trigger "event").
	RoutingKey string `yaml:"routing_key"`
	// EventsURL is the Events API's base URL (default PagerDuty's own).
	EventsURL string `yaml:"events_url"`
	// Services map the names /incident page SERVICE accepts to escalation policy IDs.
	Services map[string]string `yaml:"services"`
}

// IncidentStatuspage names the page (the key is STATUSPAGE_API_KEY).
type IncidentStatuspage struct {
	// PageID is the page incidents are published on (required with STATUSPAGE_API_KEY).
	PageID string `yaml:"page_id"`
	// Components are the component IDs an incident affects unless its form says otherwise.
	Components []string `yaml:"components"`
}

// Severity is what declaring (or raising to) one severity does. Pointers tell "left out" from
// "turned off".
type Severity struct {
	// Level is 1 for sev1 … 4 for sev4.
	Level int `yaml:"-"`
	// Page says whether the on-call is paged through PagerDuty.
	Page *bool `yaml:"page"`
	// Urgency is the PagerDuty urgency: high or low.
	Urgency string `yaml:"urgency"`
	// StatusPage is the publishing rule: auto (published at once), confirm (the commander
	// presses "Publish to status page" after reading the exact public text) or off.
	StatusPage string `yaml:"status_page"`
	// Impact is the status page incident's impact: none, minor, major or critical.
	Impact string `yaml:"impact"`
	// ComponentStatus is what the affected components show: degraded_performance,
	// partial_outage or major_outage.
	ComponentStatus string `yaml:"component_status"`
	// Reminder is how long the commander may go without posting an update before the bot
	// reminds them; 0s turns reminders off.
	Reminder *Duration `yaml:"reminder"`
	// Responders are invited into the incident channel, besides the declarer and the on-call.
	Responders Members `yaml:"responders"`
	// Stakeholders hear about the incident and each update.
	Stakeholders Stakeholders `yaml:"stakeholders"`
}

// Stakeholders are who is told about an incident of a severity.
type Stakeholders struct {
	// Channels get a short self-contained message (default: slack.stakeholders_channel for sev1
	// and sev2; [] for none).
	Channels []string `yaml:"channels"`
	// Groups are user groups mentioned in those messages, so they are notified.
	Groups []string `yaml:"groups"`
	// Users get the message as a direct message.
	Users []string `yaml:"users"`
	// PagerDutyStatusUpdate also posts it as a PagerDuty status update, which PagerDuty sends to
	// the incident's subscribers (default true for sev1 and sev2).
	PagerDutyStatusUpdate *bool `yaml:"pagerduty_status_update"`
}

// Publishing rules for Severity.StatusPage.
const (
	PublishAuto    = "auto"
	PublishConfirm = "confirm"
	PublishOff     = "off"
)

// DeclareAnyone lets everyone declare an incident (Incidents.Declare).
const DeclareAnyone Role = "anyone"

// SeverityNames are the severities, most severe first.
var SeverityNames = []string{"sev1", "sev2", "sev3", "sev4"}

// severityDefaults are the rules a severity has unless opsbot.yaml says otherwise. The
// stakeholder channels default to slack.stakeholders_channel where stakeholdersByDefault says so.
var severityDefaults = map[string]struct {
	page                  bool
	urgency, statusPage   string
	impact, component     string
	reminder              time.Duration
	stakeholdersByDefault bool
}{
	"sev1": {true, "high", PublishAuto, "critical", "major_outage", 15 * time.Minute, true},
	"sev2": {true, "high", PublishConfirm, "major", "partial_outage", 30 * time.Minute, true},
	"sev3": {false, "low", PublishConfirm, "minor", "degraded_performance", time.Hour, false},
	"sev4": {false, "low", PublishOff, "none", "degraded_performance", 0, false},
}

// Severity returns the rules of severity level (1–4), defaults filled in.
func (in *Incidents) Severity(level int) *Severity {
	if level < 1 || level > len(SeverityNames) {
		return nil
	}
	return in.Severities[SeverityNames[level-1]]
}

// Pages reports whether the severity pages the on-call.
func (s *Severity) Pages() bool { return s.Page != nil && *s.Page }

// ReminderEvery is the reminder interval (0: no reminders).
func (s *Severity) ReminderEvery() time.Duration {
	if s.Reminder == nil {
		return 0
	}
	return s.Reminder.Std()
}

// PostsPagerDutyStatusUpdate reports whether stakeholders also get a PagerDuty status update.
func (s *Severity) PostsPagerDutyStatusUpdate() bool {
	return s.Stakeholders.PagerDutyStatusUpdate != nil && *s.Stakeholders.PagerDutyStatusUpdate
}

// prepareIncidents fills in the incidents section's defaults and reports its problems.
func (c *Config) prepareIncidents() Problems {
	in := &c.Incidents
	setDefault(&in.ChannelPrefix, "inc-")
	if in.Declare == "" {
		in.Declare = DeclareAnyone
	}
	setDefault(&in.Environment, c.Deploy.DefaultEnvironment)
	if in.Roles == nil {
		in.Roles = []string{"comms", "scribe"}
	}
	setDefault(&in.PagerDuty.Trigger, "incident")
	if in.Severities == nil {
		in.Severities = map[string]*Severity{}
	}
	var ps Problems
	bad := func(path, format string, args ...any) {
		ps = append(ps, Problem{File: c.Path, Line: c.line(path), Setting: path, Message: fmt.Sprintf(format, args...)})
	}
	for name := range in.Severities {
		if _, ok := severityDefaults[name]; !ok {
			bad("incidents.severities."+name, "unknown severity %q (known: %s)", name, strings.Join(SeverityNames, ", "))
		}
	}
	for level, name := range SeverityNames {
		sev := in.Severities[name]
		if sev == nil {
			sev = &Severity{}
			in.Severities[name] = sev
		}
		c.severityDefaults(sev, level+1, name)
		c.checkSeverity(sev, "incidents.severities."+name, bad)
	}

	if !incidentPrefix.MatchString(in.ChannelPrefix) {
		bad("incidents.channel_prefix", "%q is not a channel name prefix (lower-case letters, digits, - and _, ≤ 20)", in.ChannelPrefix)
	}
	if in.Declare != DeclareAnyone && !knownRole(in.Declare) {
		bad("incidents.declare", "%q is not anyone or a role (%s)", in.Declare, roleList())
	}
	if _, ok := c.Deploy.Environments[in.Environment]; !ok {
		bad("incidents.environment", "%q is not one of deploy.environments (%s)", in.Environment, strings.Join(c.EnvironmentNames(), ", "))
	}
	for i, r := range in.Roles {
		if !incidentRole.MatchString(r) || r == "commander" {
			bad(fmt.Sprintf("incidents.roles[%d]", i), "%q is not a role name (lower-case letters, digits, - and _; commander is built in)", r)
		}
	}

	pd := in.PagerDuty
	if !c.Env.PagerDutyToken.Empty() {
		if pd.ServiceID == "" {
			bad("incidents.pagerduty.service_id", "required with PAGERDUTY_TOKEN: the service incidents are opened on")
		}
		if _, err := mail.ParseAddress(pd.From); err != nil {
			bad("incidents.pagerduty.from", "required with PAGERDUTY_TOKEN: the email of the PagerDuty user opsbot acts as")
		}
	}
	switch pd.Trigger {
	case "incident":
	case "event":
		if pd.RoutingKey == "" {
			bad("incidents.pagerduty.routing_key", "required when trigger is event: the service's Events API v2 integration key")
		}
	default:
		bad("incidents.pagerduty.trigger", "%q is not incident or event", pd.Trigger)
	}
	if pd.EventsURL != "" && !isHTTPURL(pd.EventsURL) {
		bad("incidents.pagerduty.events_url", "%q is not an http(s) URL", pd.EventsURL)
	}
	for _, name := range sortedKeys(pd.Services) {
		if !incidentRole.MatchString(name) {
			bad("incidents.pagerduty.services."+name, "%q is not a service name (lower-case letters, digits, - and _)", name)
		}
	}
	if !c.Env.StatuspageAPIKey.Empty() && in.Statuspage.PageID == "" {
		bad("incidents.statuspage.page_id", "required with STATUSPAGE_API_KEY: the page incidents are published on")
	}
	return ps
}

// severityDefaults fills in what sev leaves out.
func (c *Config) severityDefaults(sev *Severity, level int, name string) {
	def := severityDefaults[name]
	sev.Level = level
	if sev.Page == nil {
		sev.Page = &def.page
	}
	setDefault(&sev.Urgency, def.urgency)
	setDefault(&sev.StatusPage, def.statusPage)
	setDefault(&sev.Impact, def.impact)
	setDefault(&sev.ComponentStatus, def.component)
	if sev.Reminder == nil {
		r := Duration(def.reminder)
		sev.Reminder = &r
	}
	if sev.Stakeholders.Channels == nil && def.stakeholdersByDefault && c.Slack.StakeholdersChannel != "" {
		sev.Stakeholders.Channels = []string{c.Slack.StakeholdersChannel}
	}
	if sev.Stakeholders.PagerDutyStatusUpdate == nil {
		sev.Stakeholders.PagerDutyStatusUpdate = &def.stakeholdersByDefault
	}
}

func (c *Config) checkSeverity(sev *Severity, path string, bad func(path, format string, args ...any)) {
	oneOf := func(setting, value string, allowed ...string) {
		for _, a := range allowed {
			if value == a {
				return
			}
		}
		bad(path+"."+setting, "%q is not %s", value, strings.Join(allowed, ", "))
	}
	oneOf("urgency", sev.Urgency, "high", "low")
	oneOf("status_page", sev.StatusPage, PublishAuto, PublishConfirm, PublishOff)
	oneOf("impact", sev.Impact, "none", "minor", "major", "critical")
	oneOf("component_status", sev.ComponentStatus, "degraded_performance", "partial_outage", "major_outage")
	if r := sev.ReminderEvery(); r != 0 && r < time.Minute {
		bad(path+".reminder", "a reminder under 1m would nag; use 0s to turn reminders off")
	}
	ids := func(setting string, list []string, pattern *regexp.Regexp, what string) {
		for i, id := range list {
			if !pattern.MatchString(id) {
				bad(fmt.Sprintf("%s.%s[%d]", path, setting, i), "%q is not a %s", id, what)
			}
		}
	}
	ids("responders.users", sev.Responders.Users, slackUserID, "Slack user ID (U…)")
	ids("responders.groups", sev.Responders.Groups, slackGroupID, "Slack user group ID (S…)")
	ids("stakeholders.channels", sev.Stakeholders.Channels, slackChannelID, "Slack channel ID (C… or G…)")
	ids("stakeholders.groups", sev.Stakeholders.Groups, slackGroupID, "Slack user group ID (S…)")
	ids("stakeholders.users", sev.Stakeholders.Users, slackUserID, "Slack user ID (U…)")
}

var (
	incidentPrefix = regexp.MustCompile(`^[a-z0-9_-]{1,20}$`)
	incidentRole   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,30}$`)
)

func isHTTPURL(raw string) bool {
	return strings.HasPrefix(raw, "http://") || strings.HasPrefix(raw, "https://")
}

// IncidentIntegrations reports PagerDuty and Statuspage as Integrations reports Slack and
// GitHub. A drill uses an integration only when it is Sandboxed.
func (c *Config) IncidentIntegrations() []Integration {
	pd := integration("pagerduty", c.Env.PagerDutyAPIURL, "https://api.pagerduty.com/",
		!c.Env.PagerDutyToken.Empty(), "PAGERDUTY_TOKEN")
	if pd.State == Sandboxed && c.Incidents.PagerDuty.Trigger == "event" && !isLoopback(c.Incidents.PagerDuty.EventsURL) {
		pd = Integration{Name: "pagerduty", State: Configured, Reason: "events go to " + c.Incidents.PagerDuty.EventsURL}
	}
	sp := integration("statuspage", c.Env.StatuspageAPIURL, "https://api.statuspage.io/v1",
		!c.Env.StatuspageAPIKey.Empty(), "STATUSPAGE_API_KEY")
	return []Integration{pd, sp}
}
