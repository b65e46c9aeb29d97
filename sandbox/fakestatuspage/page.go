package fakestatuspage

import (
	"maps"
	"slices"
	"time"
)

// Component statuses, as Statuspage names them.
const (
	Operational         = "operational"
	UnderMaintenance    = "under_maintenance"
	DegradedPerformance = "degraded_performance"
	PartialOutage       = "partial_outage"
	MajorOutage         = "major_outage"
)

// Incident statuses of a realtime incident, as Statuspage names them.
const (
	Investigating = "investigating"
	Identified    = "identified"
	Monitoring    = "monitoring"
	Resolved      = "resolved"
)

// Component is one component of the page, as the public sees it.
type Component struct {
	ID        string
	Name      string
	Status    string
	Position  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

func seedComponents(now time.Time) []*Component {
	var components []*Component
	for i, c := range []struct{ id, name string }{
		{ComponentAPI, "API"}, {ComponentDashboard, "Dashboard"}, {ComponentIngestion, "Ingestion"},
	} {
		components = append(components, &Component{
			ID: c.id, Name: c.name, Status: Operational, Position: i + 1, CreatedAt: now, UpdatedAt: now,
		})
	}
	return components
}

// Incident is one incident on the page. Incidents returns copies.
type Incident struct {
	ID     string
	Name   string
	Status string
	// Impact is the impact the page shows: ImpactOverride when set, otherwise worked out from
	// the affected components' worst status.
	Impact         string
	ImpactOverride string
	// Metadata is stored as given; Statuspage requires every top-level value to be an object.
	Metadata map[string]any
	// ComponentIDs are the affected components, in the order they were first named.
	ComponentIDs []string
	// Updates is the incident's public history, oldest first.
	Updates    []Update
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ResolvedAt time.Time // zero while unresolved
}

// Update is one incident update: the exact text subscribers are sent and the page shows.
type Update struct {
	ID     string
	Status string
	Body   string
	At     time.Time
	// Notified is deliver_notifications: whether subscribers were sent this update.
	Notified bool
	// Components are the component status changes published with the update.
	Components []ComponentChange
}

// ComponentChange is one component's status change within an update.
type ComponentChange struct {
	ID        string
	OldStatus string
	NewStatus string
}

// Incidents returns every incident, oldest first.
func (s *Server) Incidents() []Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Incident, len(s.incidents))
	for i, inc := range s.incidents {
		out[i] = inc.clone()
	}
	return out
}

// Components returns the page's components in their display order.
func (s *Server) Components() []Component {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Component, len(s.components))
	for i, c := range s.components {
		out[i] = *c
	}
	return out
}

func (inc *Incident) clone() Incident {
	c := *inc
	c.Metadata = maps.Clone(inc.Metadata)
	c.ComponentIDs = slices.Clone(inc.ComponentIDs)
	c.Updates = make([]Update, len(inc.Updates))
	for i, u := range inc.Updates {
		u.Components = slices.Clone(u.Components)
		c.Updates[i] = u
	}
	return c
}

func (s *Server) component(id string) *Component {
	for _, c := range s.components {
		if c.ID == id {
			return c
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

// impactOf is the impact Statuspage works out from the affected components' worst status.
func (s *Server) impactOf(inc *Incident) string {
	if inc.ImpactOverride != "" {
		return inc.ImpactOverride
	}
	ranks := map[string]int{DegradedPerformance: 1, PartialOutage: 2, MajorOutage: 3}
	worst := 0
	for _, id := range inc.ComponentIDs {
		worst = max(worst, ranks[s.component(id).Status])
	}
	return []string{"none", "minor", "major", "critical"}[worst]
}

// change is one incident creation or update as a request asks for it.
type change struct {
	name, status, body, impactOverride string
	metadata                           map[string]any
	componentIDs                       []string
	components                         map[string]string // component ID → new status ("" for none)
	notify                             bool
}

// apply makes the change to inc and records the public update it produces, if any: a new
// status, a message or component changes each make an update, as at Statuspage. Callers hold
// s.mu and have checked the change.
func (s *Server) apply(inc *Incident, c change) {
	now := s.now()
	if c.name != "" {
		inc.Name = c.name
	}
	if c.impactOverride != "" {
		inc.ImpactOverride = c.impactOverride
	}
	if c.metadata != nil {
		inc.Metadata = c.metadata
	}
	for _, id := range c.componentIDs {
		if !slices.Contains(inc.ComponentIDs, id) {
			inc.ComponentIDs = append(inc.ComponentIDs, id)
		}
	}
	var changes []ComponentChange
	for _, id := range slices.Sorted(maps.Keys(c.components)) {
		component, status := s.component(id), c.components[id]
		if !slices.Contains(inc.ComponentIDs, id) {
			inc.ComponentIDs = append(inc.ComponentIDs, id)
		}
		if status == "" || status == component.Status {
			continue
		}
		changes = append(changes, ComponentChange{ID: id, OldStatus: component.Status, NewStatus: status})
		component.Status, component.UpdatedAt = status, now
	}
	statusChanged := c.status != "" && c.status != inc.Status
	if c.status != "" {
		inc.Status = c.status
	}
	if inc.Status == Resolved && inc.ResolvedAt.IsZero() {
		inc.ResolvedAt = now
	} else if inc.Status != Resolved {
		inc.ResolvedAt = time.Time{}
	}
	inc.Impact = s.impactOf(inc)
	inc.UpdatedAt = now
	if statusChanged || c.body != "" || len(changes) > 0 || len(inc.Updates) == 0 {
		inc.Updates = append(inc.Updates, Update{
			ID: s.nextID("upd"), Status: inc.Status, Body: c.body, At: now, Notified: c.notify, Components: changes,
		})
	}
}
