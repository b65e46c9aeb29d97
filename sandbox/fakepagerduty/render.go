package fakepagerduty

import (
	"strconv"
	"time"
)

// What the REST API answers, in PagerDuty's shapes (only the fields a client reads).

// htmlBase is where PagerDuty's web app would show the sandbox account's objects.
const htmlBase = "https://sandbox.pagerduty.com"

type ref struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary,omitempty"`
	Self    string `json:"self,omitempty"`
	HTMLURL string `json:"html_url,omitempty"`
}

type userJSON struct {
	ref
	Name     string `json:"name"`
	Email    string `json:"email"`
	TimeZone string `json:"time_zone"`
	Role     string `json:"role"`
}

type incidentJSON struct {
	ref
	IncidentNumber      int              `json:"incident_number"`
	Title               string           `json:"title"`
	Description         string           `json:"description"`
	CreatedAt           string           `json:"created_at"`
	UpdatedAt           string           `json:"updated_at"`
	Status              string           `json:"status"`
	IncidentKey         *string          `json:"incident_key"`
	Service             ref              `json:"service"`
	EscalationPolicy    ref              `json:"escalation_policy"`
	Assignments         []map[string]any `json:"assignments"`
	Acknowledgements    []map[string]any `json:"acknowledgements"`
	LastStatusChangeAt  string           `json:"last_status_change_at"`
	LastStatusChangeBy  ref              `json:"last_status_change_by"`
	Urgency             string           `json:"urgency"`
	ResolvedAt          *string          `json:"resolved_at"`
	IncidentsResponders []map[string]any `json:"incidents_responders"`
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func serviceRef() ref {
	return ref{ID: ServiceID, Type: "service_reference", Summary: ServiceName}
}

func (s *Server) userRef(u user) ref {
	return ref{
		ID: u.id, Type: "user_reference", Summary: u.name,
		Self: s.APIURL() + "/users/" + u.id, HTMLURL: htmlBase + "/users/" + u.id,
	}
}

func (s *Server) userJSON(u user) userJSON {
	r := s.userRef(u)
	r.Type = "user"
	return userJSON{ref: r, Name: u.name, Email: u.email, TimeZone: "Etc/UTC", Role: "user"}
}

func (s *Server) incidentRef(inc *Incident) ref {
	return ref{
		ID: inc.ID, Type: "incident_reference", Summary: "[#" + strconv.Itoa(inc.Number) + "] " + inc.Title,
		Self: s.APIURL() + "/incidents/" + inc.ID, HTMLURL: htmlBase + "/incidents/" + inc.ID,
	}
}

// agentRef is who made a change: a user, or the service when an event did.
func (s *Server) agentRef(id string) ref {
	if u, ok := s.userByID(id); ok {
		return s.userRef(u)
	}
	return serviceRef()
}

func (s *Server) incidentJSON(inc *Incident) incidentJSON {
	r := s.incidentRef(inc)
	r.Type = "incident"
	last := inc.Log[len(inc.Log)-1]
	out := incidentJSON{
		ref:                 r,
		IncidentNumber:      inc.Number,
		Title:               inc.Title,
		Description:         inc.Title,
		CreatedAt:           timestamp(inc.CreatedAt()),
		UpdatedAt:           timestamp(last.At),
		Status:              inc.Status,
		Service:             serviceRef(),
		EscalationPolicy:    ref{ID: EscalationPolicyID, Type: "escalation_policy_reference", Summary: "Analytics on-call"},
		Assignments:         []map[string]any{},
		Acknowledgements:    []map[string]any{},
		LastStatusChangeAt:  timestamp(last.At),
		LastStatusChangeBy:  s.agentRef(last.By),
		Urgency:             inc.Urgency,
		IncidentsResponders: []map[string]any{},
	}
	if inc.Key != "" {
		out.IncidentKey = &inc.Key
	}
	if u, ok := s.userByID(inc.AssignedTo); ok {
		out.Assignments = append(out.Assignments, map[string]any{"at": timestamp(inc.CreatedAt()), "assignee": s.userRef(u)})
	}
	// PagerDuty lists acknowledgements only while the incident is acknowledged.
	if inc.Status == Acknowledged {
		out.Acknowledgements = append(out.Acknowledgements, map[string]any{"at": timestamp(last.At), "acknowledger": s.agentRef(last.By)})
	}
	if inc.Status == Resolved {
		at := timestamp(last.At)
		out.ResolvedAt = &at
	}
	for _, r := range inc.Responders {
		out.IncidentsResponders = append(out.IncidentsResponders, s.responderJSON(inc, r))
	}
	return out
}

func (s *Server) responderJSON(inc *Incident, r Responder) map[string]any {
	responder, _ := s.userByID(r.UserID)
	requester, _ := s.userByID(r.RequestedBy)
	return map[string]any{
		"state":        r.State,
		"user":         s.userRef(responder),
		"incident":     s.incidentRef(inc),
		"updated_at":   timestamp(r.RequestedAt),
		"message":      r.Message,
		"requester":    s.userRef(requester),
		"requested_at": timestamp(r.RequestedAt),
	}
}

func (s *Server) noteJSON(inc *Incident, i int) map[string]any {
	n := inc.Notes[i]
	author, _ := s.userByID(n.Author)
	return map[string]any{
		"id":         inc.ID + "N" + strconv.Itoa(i+1),
		"user":       s.userRef(author),
		"content":    n.Content,
		"created_at": timestamp(n.At),
		"channel":    map[string]any{"summary": "The PagerDuty API"},
	}
}
