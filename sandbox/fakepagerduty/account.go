package fakepagerduty

import (
	"slices"
	"strings"
	"time"
)

// Incident statuses, as PagerDuty names them.
const (
	Triggered    = "triggered"
	Acknowledged = "acknowledged"
	Resolved     = "resolved"
)

type user struct {
	id, name, email string
}

func seedUsers() []user {
	var users []user
	for _, u := range []struct{ id, name string }{{Alice, "alice"}, {Bob, "bob"}, {Carol, "carol"}, {Dave, "dave"}, {Opsbot, "opsbot"}} {
		users = append(users, user{id: u.id, name: strings.ToUpper(u.name[:1]) + u.name[1:], email: u.name + "@example.com"})
	}
	return users
}

// onCall is who is on call for the escalation policy: carol, on the only level, around the clock.
const onCall = Carol

// Incident is one incident as the fake knows it. Incidents returns copies.
type Incident struct {
	ID        string
	Number    int
	Title     string
	Key       string // incident_key, or the Events API dedup_key that opened it
	ServiceID string
	Urgency   string // high | low
	Status    string // Triggered, Acknowledged or Resolved
	// AssignedTo is the user the incident is assigned to (the on-call) until it is resolved.
	AssignedTo    string
	Responders    []Responder
	StatusUpdates []StatusUpdate
	Notes         []Note
	// Log records every status change, oldest first; the first entry is the trigger.
	Log []Change
}

// Responder is someone asked to join an incident through a responder request.
type Responder struct {
	UserID      string
	State       string // pending: PagerDuty has notified them
	Message     string
	RequestedBy string // user ID
	RequestedAt time.Time
}

// StatusUpdate is a status update posted to an incident; PagerDuty sends it to the incident's
// subscribers.
type StatusUpdate struct {
	Message string
	Sender  string // user ID
	At      time.Time
}

// Note is a note added to an incident.
type Note struct {
	Content string
	Author  string // user ID
	At      time.Time
}

// Change is one status change of an incident.
type Change struct {
	Status string
	At     time.Time
	// By is the user ID that made the change, or "events" when an Events API event did.
	By string
}

// eventsAgent is who changes an incident through the Events API.
const eventsAgent = "events"

// CreatedAt is when the incident was triggered.
func (inc Incident) CreatedAt() time.Time { return inc.Log[0].At }

// AcknowledgedAt is when the incident was first acknowledged, or zero.
func (inc Incident) AcknowledgedAt() time.Time { return inc.firstChange(Acknowledged) }

// ResolvedAt is when the incident was resolved, or zero while it is open.
func (inc Incident) ResolvedAt() time.Time {
	if inc.Status != Resolved {
		return time.Time{}
	}
	return inc.Log[len(inc.Log)-1].At
}

func (inc Incident) firstChange(status string) time.Time {
	for _, c := range inc.Log {
		if c.Status == status {
			return c.At
		}
	}
	return time.Time{}
}

func (inc *Incident) open() bool { return inc.Status != Resolved }

func (inc *Incident) clone() Incident {
	c := *inc
	c.Responders = slices.Clone(inc.Responders)
	c.StatusUpdates = slices.Clone(inc.StatusUpdates)
	c.Notes = slices.Clone(inc.Notes)
	c.Log = slices.Clone(inc.Log)
	return c
}

// setStatus records a status change; changing to the current status is no change at all, as
// at PagerDuty. Callers hold s.mu.
func (inc *Incident) setStatus(status, by string, at time.Time) {
	if inc.Status == status {
		return
	}
	inc.Status = status
	inc.Log = append(inc.Log, Change{Status: status, At: at, By: by})
	switch status {
	case Resolved:
		inc.AssignedTo = ""
	case Triggered:
		inc.AssignedTo = onCall
	}
}

// trigger opens an incident on the service, assigned to the on-call. Callers hold s.mu.
func (s *Server) trigger(title, key, urgency, by string) *Incident {
	inc := &Incident{
		ID:         s.nextID("Q"),
		Number:     len(s.incidents) + 1,
		Title:      title,
		Key:        key,
		ServiceID:  ServiceID,
		Urgency:    urgency,
		Status:     Triggered,
		AssignedTo: onCall,
		Log:        []Change{{Status: Triggered, At: s.now(), By: by}},
	}
	s.incidents = append(s.incidents, inc)
	return inc
}

// openIncidentWithKey finds the open incident on the service carrying key. Callers hold s.mu.
func (s *Server) openIncidentWithKey(serviceID, key string) *Incident {
	for _, inc := range s.incidents {
		if inc.open() && inc.ServiceID == serviceID && inc.Key == key {
			return inc
		}
	}
	return nil
}

func (s *Server) incident(id string) *Incident {
	for _, inc := range s.incidents {
		if inc.ID == id {
			return inc
		}
	}
	return nil
}

// acknowledgeDue has the on-call acknowledge every incident that has been triggered for
// AckAfter, at the moment they did so. It runs before every request and inspection instead of
// on a timer, so that advancing the clock takes effect at once and no goroutine is needed.
// Callers hold s.mu.
func (s *Server) acknowledgeDue() {
	if s.opts.AckAfter < 0 {
		return
	}
	now := s.now()
	for _, inc := range s.incidents {
		if inc.Status != Triggered {
			continue
		}
		due := inc.Log[len(inc.Log)-1].At.Add(s.opts.AckAfter)
		if !due.After(now) {
			inc.setStatus(Acknowledged, inc.AssignedTo, due)
		}
	}
}
