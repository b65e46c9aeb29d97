package fakestatuspage

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Statuspage's limits on incident text.
const (
	maxNameLength = 255
	maxBodyLength = 25000
)

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	page := "/v1/pages/{page_id}"
	mux.HandleFunc("GET "+page+"/components", s.onPage(s.listComponents))
	mux.HandleFunc("GET "+page+"/components/{component_id}", s.onPage(s.getComponent))
	mux.HandleFunc("PATCH "+page+"/components/{component_id}", s.onPage(s.updateComponent))
	mux.HandleFunc("GET "+page+"/incidents", s.onPage(s.listIncidents))
	mux.HandleFunc("GET "+page+"/incidents/unresolved", s.onPage(s.listUnresolved))
	mux.HandleFunc("POST "+page+"/incidents", s.onPage(s.createIncident))
	mux.HandleFunc("GET "+page+"/incidents/{incident_id}", s.onPage(s.getIncident))
	mux.HandleFunc("PATCH "+page+"/incidents/{incident_id}", s.onPage(s.updateIncident))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotImplemented, r.Method+" "+r.URL.Path+" is in Statuspage's API but not in the sandbox")
	})
	return mux
}

// onPage answers 404 for any page but the sandbox's.
func (s *Server) onPage(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("page_id") != PageID {
			fail(w, http.StatusNotFound, "The requested resource could not be found.")
			return
		}
		h(w, r)
	}
}

// fail answers in Statuspage's error format, {"message": ...}.
func fail(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"message": message})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// The body is built by the fake from plain values; encoding cannot fail, and a write error
	// means the client went away.
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) listComponents(w http.ResponseWriter, r *http.Request) {
	out := make([]componentJSON, len(s.components))
	for i, c := range s.components {
		out[i] = componentJSONOf(c)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getComponent(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.componentOr404(w, r); ok {
		writeJSON(w, http.StatusOK, componentJSONOf(c))
	}
}

func (s *Server) updateComponent(w http.ResponseWriter, r *http.Request) {
	c, ok := s.componentOr404(w, r)
	if !ok {
		return
	}
	var req struct {
		Component struct {
			Status string `json:"status"`
		} `json:"component"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Component.Status != "" && req.Component.Status != c.Status {
		c.Status, c.UpdatedAt = req.Component.Status, s.now()
	}
	writeJSON(w, http.StatusOK, componentJSONOf(c))
}

func (s *Server) componentOr404(w http.ResponseWriter, r *http.Request) (*Component, bool) {
	c := s.component(r.PathValue("component_id"))
	if c == nil {
		fail(w, http.StatusNotFound, "The requested resource could not be found.")
	}
	return c, c != nil
}

func (s *Server) incidentOr404(w http.ResponseWriter, r *http.Request) (*Incident, bool) {
	inc := s.incident(r.PathValue("incident_id"))
	if inc == nil {
		fail(w, http.StatusNotFound, "The requested resource could not be found.")
	}
	return inc, inc != nil
}

// decode reads a JSON request body that already passed the API description.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

// incidentRequest is the body of an incident's creation or update.
type incidentRequest struct {
	Incident struct {
		Name                 string            `json:"name"`
		Status               string            `json:"status"`
		ImpactOverride       string            `json:"impact_override"`
		Body                 string            `json:"body"`
		Metadata             map[string]any    `json:"metadata"`
		ComponentIDs         []string          `json:"component_ids"`
		Components           map[string]string `json:"components"`
		DeliverNotifications *bool             `json:"deliver_notifications"`
	} `json:"incident"`
}

var componentStatuses = []string{Operational, UnderMaintenance, DegradedPerformance, PartialOutage, MajorOutage, ""}

// change reads the request, or says why Statuspage refuses it with 422: what the API
// description cannot say.
func (s *Server) change(req incidentRequest) (c change, refusal string) {
	in := req.Incident
	switch {
	case utf8.RuneCountInString(in.Name) > maxNameLength:
		return change{}, fmt.Sprintf("Name is too long (maximum is %d characters)", maxNameLength)
	case utf8.RuneCountInString(in.Body) > maxBodyLength:
		return change{}, fmt.Sprintf("Body is too long (maximum is %d characters)", maxBodyLength)
	case in.Status != "" && !slices.Contains([]string{Investigating, Identified, Monitoring, Resolved}, in.Status):
		return change{}, fmt.Sprintf("Status %s is for scheduled maintenance, which the sandbox does not have", in.Status)
	}
	for key, value := range in.Metadata {
		if _, isObject := value.(map[string]any); !isObject {
			return change{}, fmt.Sprintf("Metadata value %q must be an object", key)
		}
	}
	for _, id := range slices.Concat(in.ComponentIDs, slices.Collect(maps.Keys(in.Components))) {
		if s.component(id) == nil {
			return change{}, fmt.Sprintf("Component %s does not belong to page %s", id, PageID)
		}
	}
	for id, status := range in.Components {
		if !slices.Contains(componentStatuses, status) {
			return change{}, fmt.Sprintf("Component %s: %q is not a component status", id, status)
		}
	}
	notify := in.DeliverNotifications == nil || *in.DeliverNotifications
	return change{
		name: in.Name, status: in.Status, body: in.Body, impactOverride: in.ImpactOverride, metadata: in.Metadata,
		componentIDs: in.ComponentIDs, components: in.Components, notify: notify,
	}, ""
}

func (s *Server) createIncident(w http.ResponseWriter, r *http.Request) {
	var req incidentRequest
	if !decode(w, r, &req) {
		return
	}
	c, refusal := s.change(req)
	if refusal != "" {
		fail(w, http.StatusUnprocessableEntity, refusal)
		return
	}
	if c.status == "" {
		c.status = Investigating
	}
	now := s.now()
	inc := &Incident{ID: s.nextID("inc"), CreatedAt: now}
	s.apply(inc, c)
	s.incidents = append(s.incidents, inc)
	writeJSON(w, http.StatusCreated, s.incidentJSON(inc))
}

func (s *Server) updateIncident(w http.ResponseWriter, r *http.Request) {
	inc, ok := s.incidentOr404(w, r)
	if !ok {
		return
	}
	var req incidentRequest
	if !decode(w, r, &req) {
		return
	}
	c, refusal := s.change(req)
	if refusal != "" {
		fail(w, http.StatusUnprocessableEntity, refusal)
		return
	}
	s.apply(inc, c)
	writeJSON(w, http.StatusOK, s.incidentJSON(inc))
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	if inc, ok := s.incidentOr404(w, r); ok {
		writeJSON(w, http.StatusOK, s.incidentJSON(inc))
	}
}

// listIncidents answers the page's incidents, newest first, matching q in their name, status
// or updates; limit (at most 100) per page.
func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(r.URL.Query().Get("q"))
	var matching []*Incident
	for _, inc := range slices.Backward(s.incidents) {
		if q == "" || inc.mentions(q) {
			matching = append(matching, inc)
		}
	}
	writeJSON(w, http.StatusOK, s.page(matching, r.URL.Query().Get("page"), r.URL.Query().Get("limit")))
}

func (inc *Incident) mentions(q string) bool {
	if strings.Contains(strings.ToLower(inc.Name), q) || strings.Contains(inc.Status, q) {
		return true
	}
	return slices.ContainsFunc(inc.Updates, func(u Update) bool { return strings.Contains(strings.ToLower(u.Body), q) })
}

// listUnresolved answers the incidents not yet resolved, newest first.
func (s *Server) listUnresolved(w http.ResponseWriter, r *http.Request) {
	var unresolved []*Incident
	for _, inc := range slices.Backward(s.incidents) {
		if inc.Status != Resolved {
			unresolved = append(unresolved, inc)
		}
	}
	writeJSON(w, http.StatusOK, s.page(unresolved, r.URL.Query().Get("page"), r.URL.Query().Get("per_page")))
}

// page answers one page of incidents: page counts from 1, perPage is at most 100.
func (s *Server) page(incidents []*Incident, page, perPage string) []incidentJSON {
	n, size := 1, 100
	if v, err := strconv.Atoi(page); err == nil && v > 1 {
		n = v
	}
	if v, err := strconv.Atoi(perPage); err == nil && v > 0 {
		size = min(v, 100)
	}
	start := min((n-1)*size, len(incidents))
	out := []incidentJSON{}
	for _, inc := range incidents[start:min(start+size, len(incidents))] {
		out = append(out, s.incidentJSON(inc))
	}
	return out
}

// What the API answers, in Statuspage's shapes (only the fields a client reads).

type componentJSON struct {
	ID          string `json:"id"`
	PageID      string `json:"page_id"`
	GroupID     any    `json:"group_id"`
	Group       bool   `json:"group"`
	Name        string `json:"name"`
	Description any    `json:"description"`
	Position    int    `json:"position"`
	Status      string `json:"status"`
	Showcase    bool   `json:"showcase"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

type incidentJSON struct {
	ID             string           `json:"id"`
	PageID         string           `json:"page_id"`
	Name           string           `json:"name"`
	Status         string           `json:"status"`
	Impact         string           `json:"impact"`
	ImpactOverride any              `json:"impact_override"`
	Shortlink      string           `json:"shortlink"`
	Metadata       map[string]any   `json:"metadata"`
	CreatedAt      string           `json:"created_at"`
	UpdatedAt      string           `json:"updated_at"`
	StartedAt      string           `json:"started_at"`
	ResolvedAt     any              `json:"resolved_at"`
	Components     []componentJSON  `json:"components"`
	Updates        []map[string]any `json:"incident_updates"`
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func componentJSONOf(c *Component) componentJSON {
	return componentJSON{
		ID: c.ID, PageID: PageID, Name: c.Name, Position: c.Position, Status: c.Status, Showcase: true,
		CreatedAt: timestamp(c.CreatedAt), UpdatedAt: timestamp(c.UpdatedAt),
	}
}

func (s *Server) incidentJSON(inc *Incident) incidentJSON {
	out := incidentJSON{
		ID: inc.ID, PageID: PageID, Name: inc.Name, Status: inc.Status, Impact: inc.Impact,
		Shortlink: "https://stspg.io/" + inc.ID, Metadata: inc.Metadata,
		CreatedAt: timestamp(inc.CreatedAt), UpdatedAt: timestamp(inc.UpdatedAt), StartedAt: timestamp(inc.CreatedAt),
		Components: []componentJSON{}, Updates: []map[string]any{},
	}
	if inc.ImpactOverride != "" {
		out.ImpactOverride = inc.ImpactOverride
	}
	if out.Metadata == nil {
		out.Metadata = map[string]any{}
	}
	if !inc.ResolvedAt.IsZero() {
		out.ResolvedAt = timestamp(inc.ResolvedAt)
	}
	for _, id := range inc.ComponentIDs {
		out.Components = append(out.Components, componentJSONOf(s.component(id)))
	}
	// Statuspage lists updates newest first.
	for _, u := range slices.Backward(inc.Updates) {
		affected := []map[string]string{}
		for _, c := range u.Components {
			affected = append(affected, map[string]string{
				"code": c.ID, "name": s.component(c.ID).Name, "old_status": c.OldStatus, "new_status": c.NewStatus,
			})
		}
		out.Updates = append(out.Updates, map[string]any{
			"id": u.ID, "incident_id": inc.ID, "status": u.Status, "body": u.Body,
			"created_at": timestamp(u.At), "updated_at": timestamp(u.At), "display_at": timestamp(u.At),
			"deliver_notifications": u.Notified, "affected_components": affected,
		})
	}
	return out
}
