package commands

import (
	"fmt"
	"strings"
)

// The slash commands opsbot answers, as Slack names them in a slash-command payload.
const (
	Release  = "/release"
	Deploy   = "/deploy"
	Rollback = "/rollback"
	Incident = "/incident"
)

// Request is what a command asks for. It is one of the exported structs in this file; callers
// switch on the concrete type.
type Request interface {
	// String returns the canonical command line, e.g. "/deploy v1.4.0 to staging". Parsing the
	// text after the command gives back an equal request, so it is fit for audit logs.
	String() string
	isRequest()
}

// Version is a release version as tagged in git: "v1.4.0" or "v1.4.0-rc.1". Parse only produces
// well-formed versions; the empty Version means none was given.
type Version string

// Severity of an incident: 1 is the most severe, 4 the least; 0 means none was given.
type Severity int

func (s Severity) String() string {
	if s == 0 {
		return ""
	}
	return fmt.Sprintf("sev%d", int(s))
}

// Phase is the status an incident update announces, as on a status page.
type Phase string

// The phases an update may announce; resolving is its own request (IncidentResolve).
const (
	PhaseInvestigating Phase = "investigating"
	PhaseIdentified    Phase = "identified"
	PhaseMonitoring    Phase = "monitoring"
)

// UserText is free text a person typed (a title, an update, a summary), exactly as Slack sent it:
// Slack-escaped, possibly holding mentions such as <!channel>. Never post it as it is: render it
// with Sanitized, or convert it for a non-Slack audience (a status page) yourself.
type UserText string

// Sanitized returns the text made safe to post in a Slack message (see Sanitize).
func (t UserText) Sanitized(mode MentionMode) string { return Sanitize(string(t), mode) }

// HelpRequest asks for a command's help; Text is what to show.
type HelpRequest struct {
	Command string
	Text    string
}

// ReleaseCreate starts a release of Version.
type ReleaseCreate struct{ Version Version }

// ReleaseStatus asks how a release is going: Version's, or the current one when empty.
type ReleaseStatus struct{ Version Version }

// DeployStart deploys Version to Env; an empty Env means the configured default environment.
type DeployStart struct {
	Version Version
	Env     string
}

// DeployStatus asks for the deploys in progress.
type DeployStatus struct{}

// DeployHistory asks for recent deploys to Env, or to every environment when empty.
type DeployHistory struct{ Env string }

// DeployCancel cancels the deploy in progress to Env; empty means the default environment.
type DeployCancel struct{ Env string }

// RollbackStart rolls Env (empty: the default environment) back to Version (empty: the newest
// version that passed verification there).
type RollbackStart struct {
	Env     string
	Version Version
}

// IncidentDeclare opens an incident. An empty Title means the caller should ask for the details in
// a modal; Severity 0 means not given. Drill marks a practice incident.
type IncidentDeclare struct {
	Severity Severity
	Title    UserText
	Drill    bool
}

// IncidentUpdate posts a status update on the incident of the channel it was typed in.
type IncidentUpdate struct {
	Phase   Phase
	Message UserText
}

// IncidentSeverity changes the incident's severity.
type IncidentSeverity struct{ Severity Severity }

// IncidentPage pages either a person (UserID, a Slack user ID) or an on-call Service (a
// configured service name); exactly one is set.
type IncidentPage struct {
	UserID  string
	Service string
}

// IncidentCommander hands the incident command to UserID.
type IncidentCommander struct{ UserID string }

// IncidentRole gives Role (a configured role name such as "comms") to UserID.
type IncidentRole struct {
	Role   string
	UserID string
}

// IncidentResolve resolves the incident, with an optional Summary.
type IncidentResolve struct{ Summary UserText }

// IncidentFollowup records a follow-up action for the postmortem.
type IncidentFollowup struct{ Text UserText }

// IncidentList asks for the open incidents.
type IncidentList struct{}

// IncidentStatus asks for the state of the incident of the channel it was typed in.
type IncidentStatus struct{}

func (r HelpRequest) String() string    { return commandLine(r.Command, "help") }
func (r ReleaseCreate) String() string  { return commandLine(Release, string(r.Version)) }
func (r ReleaseStatus) String() string  { return commandLine(Release, "status", string(r.Version)) }
func (r DeployStatus) String() string   { return commandLine(Deploy, "status") }
func (r DeployHistory) String() string  { return commandLine(Deploy, "history", r.Env) }
func (r DeployCancel) String() string   { return commandLine(Deploy, "cancel", r.Env) }
func (r RollbackStart) String() string  { return commandLine(Rollback, r.Env, string(r.Version)) }
func (r IncidentList) String() string   { return commandLine(Incident, "list") }
func (r IncidentStatus) String() string { return commandLine(Incident, "status") }

func (r DeployStart) String() string {
	if r.Env == "" {
		return commandLine(Deploy, string(r.Version))
	}
	return commandLine(Deploy, string(r.Version), "to", r.Env)
}

func (r IncidentDeclare) String() string {
	drill := ""
	if r.Drill {
		drill = drillFlag
	}
	return commandLine(Incident, "declare", drill, r.Severity.String(), string(r.Title))
}

func (r IncidentUpdate) String() string {
	return commandLine(Incident, "update", string(r.Phase), string(r.Message))
}

func (r IncidentSeverity) String() string {
	return commandLine(Incident, "severity", r.Severity.String())
}

func (r IncidentPage) String() string {
	if r.UserID != "" {
		return commandLine(Incident, "page", mention(r.UserID))
	}
	return commandLine(Incident, "page", r.Service)
}

func (r IncidentCommander) String() string {
	return commandLine(Incident, "commander", mention(r.UserID))
}

func (r IncidentRole) String() string {
	return commandLine(Incident, "role", r.Role, mention(r.UserID))
}

func (r IncidentResolve) String() string {
	return commandLine(Incident, "resolve", string(r.Summary))
}

func (r IncidentFollowup) String() string {
	return commandLine(Incident, "followup", string(r.Text))
}

// commandLine joins a command and its non-empty words with single spaces.
func commandLine(command string, words ...string) string {
	var b strings.Builder
	b.WriteString(command)
	for _, w := range words {
		if w != "" {
			b.WriteByte(' ')
			b.WriteString(w)
		}
	}
	return b.String()
}

// mention renders a Slack user ID as the mention Slack itself would send.
func mention(userID string) string { return "<@" + userID + ">" }

func (HelpRequest) isRequest()       {}
func (ReleaseCreate) isRequest()     {}
func (ReleaseStatus) isRequest()     {}
func (DeployStart) isRequest()       {}
func (DeployStatus) isRequest()      {}
func (DeployHistory) isRequest()     {}
func (DeployCancel) isRequest()      {}
func (RollbackStart) isRequest()     {}
func (IncidentDeclare) isRequest()   {}
func (IncidentUpdate) isRequest()    {}
func (IncidentSeverity) isRequest()  {}
func (IncidentPage) isRequest()      {}
func (IncidentCommander) isRequest() {}
func (IncidentRole) isRequest()      {}
func (IncidentResolve) isRequest()   {}
func (IncidentFollowup) isRequest()  {}
func (IncidentList) isRequest()      {}
func (IncidentStatus) isRequest()    {}
