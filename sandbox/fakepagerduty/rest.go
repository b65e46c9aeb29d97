package fakepagerduty

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// restAPI serves PagerDuty's REST API v2.
type restAPI struct {
	s   *Server
	mux *http.ServeMux
}

func newRESTAPI(s *Server) *restAPI {
	a := &restAPI{s: s, mux: http.NewServeMux()}
	a.mux.HandleFunc("GET /incidents", a.listIncidents)
	a.mux.HandleFunc("POST /incidents", a.createIncident)
	a.mux.HandleFunc("PUT /incidents", a.updateIncidents)
	a.mux.HandleFunc("GET /incidents/{id}", a.getIncident)
	a.mux.HandleFunc("PUT /incidents/{id}", a.updateIncident)
	a.mux.HandleFunc("GET /incidents/{id}/log_entries", a.listLogEntries)
	a.mux.HandleFunc("POST /incidents/{id}/responder_requests", a.requestResponders)
	a.mux.HandleFunc("POST /incidents/{id}/status_updates", a.postStatusUpdate)
	a.mux.HandleFunc("GET /incidents/{id}/notes", a.listNotes)
	a.mux.HandleFunc("POST /incidents/{id}/notes", a.addNote)
	a.mux.HandleFunc("GET /oncalls", a.listOnCalls)
	a.mux.HandleFunc("GET /users", a.listUsers)
	a.mux.HandleFunc("GET /users/{id}", a.getUser)
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, http.StatusNotImplemented, "Not Implemented",
			r.Method+" "+r.URL.Path+" is in PagerDuty's API but not in the sandbox")
	})
	return a
}

func (a *restAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func (a *restAPI) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Token token="+Token {
		a.fail(w, http.StatusUnauthorized, "Authentication failed")
		return false
	}
	return true
}

// errorCodes are PagerDuty's error codes for the statuses the fake answers with.
var errorCodes = map[int]int{
	http.StatusInternalServerError: 2000,
	http.StatusBadRequest:          2001,
	http.StatusUnauthorized:        2006,
	http.StatusNotFound:            2100,
}

// fail answers in PagerDuty's REST error format, {"error":{"message","code","errors"}}.
func (a *restAPI) fail(w http.ResponseWriter, status int, message string, details ...string) {
	writeJSON(w, status, restError(errorCodes[status], message, details...))
}

func restError(code int, message string, details ...string) map[string]any {
	e := map[string]any{"message": message}
	if code != 0 {
		e["code"] = code
	}
	if len(details) > 0 {
		e["errors"] = details
	}
	return map[string]any{"error": e}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// The body is built by the fake from plain values; encoding cannot fail, and a write error
	// means the client went away.
	_ = json.NewEncoder(w).Encode(body)
}

// decode reads a JSON request body that already passed the API description.
func (a *restAPI) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		a.fail(w, http.StatusBadRequest, "Invalid Input Provided", err.Error())
		return false
	}
	return true
}

// requester is the user a write call acts as: PagerDuty requires the From header to be the
// email of a user on the account.
func (a *restAPI) requester(w http.ResponseWriter, r *http.Request) (user, bool) {
	from := r.Header.Get("From")
	u, ok := a.s.userByEmail(from)
	if !ok {
		a.fail(w, http.StatusBadRequest, "Invalid Input Provided",
			"The From header must be the email address of a valid user on this account, got "+strconv.Quote(from))
	}
	return u, ok
}

// incidentOr404 finds the incident the path names.
func (a *restAPI) incidentOr404(w http.ResponseWriter, r *http.Request) (*Incident, bool) {
	inc := a.s.incident(r.PathValue("id"))
	if inc == nil {
		a.fail(w, http.StatusNotFound, "Not Found", "Incident "+r.PathValue("id")+" not found")
	}
	return inc, inc != nil
}

func (a *restAPI) createIncident(w http.ResponseWriter, r *http.Request) {
	from, ok := a.requester(w, r)
	if !ok {
		return
	}
	var req struct {
		Incident struct {
			Title   string `json:"title"`
			Service struct {
				ID string `json:"id"`
			} `json:"service"`
			Urgency     string `json:"urgency"`
			IncidentKey string `json:"incident_key"`
		} `json:"incident"`
	}
	if !a.decode(w, r, &req) {
		return
	}
	in := req.Incident
	switch {
	case strings.TrimSpace(in.Title) == "":
		a.fail(w, http.StatusBadRequest, "Invalid Input Provided", "Title cannot be empty.")
		return
	case in.Service.ID != ServiceID:
		a.fail(w, http.StatusBadRequest, "Invalid Input Provided", "Service not found")
		return
	case in.IncidentKey != "" && a.s.openIncidentWithKey(in.Service.ID, in.IncidentKey) != nil:
		// PagerDuty's answer, code and wording, to a second open incident with one key.
		writeJSON(w, http.StatusBadRequest, restError(2002, "Arguments Caused Error",
			"Open incident with matching dedup key already exists on this service"))
		return
	}
	if in.Urgency == "" {
		in.Urgency = "high" // the service's urgency rule
	}
	inc := a.s.trigger(in.Title, in.IncidentKey, in.Urgency, from.id)
	writeJSON(w, http.StatusCreated, map[string]any{"incident": a.s.incidentJSON(inc)})
}

// incidentChange is the part of an incident update the fake applies.
type incidentChange struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Title   string `json:"title"`
	Urgency string `json:"urgency"`
}

func (a *restAPI) apply(inc *Incident, change incidentChange, by user) {
	if change.Title != "" {
		inc.Title = change.Title
	}
	if change.Urgency != "" {
		inc.Urgency = change.Urgency
	}
	if change.Status != "" {
		inc.setStatus(change.Status, by.id, a.s.now())
	}
}

func (a *restAPI) updateIncident(w http.ResponseWriter, r *http.Request) {
	from, ok := a.requester(w, r)
	if !ok {
		return
	}
	inc, ok := a.incidentOr404(w, r)
	if !ok {
		return
	}
	var req struct {
		Incident incidentChange `json:"incident"`
	}
	if !a.decode(w, r, &req) {
		return
	}
	a.apply(inc, req.Incident, from)
	writeJSON(w, http.StatusOK, map[string]any{"incident": a.s.incidentJSON(inc)})
}

func (a *restAPI) updateIncidents(w http.ResponseWriter, r *http.Request) {
	from, ok := a.requester(w, r)
	if !ok {
		return
	}
	var req struct {
		Incidents []incidentChange `json:"incidents"`
	}
	if !a.decode(w, r, &req) {
		return
	}
	updated := make([]*Incident, len(req.Incidents))
	for i, change := range req.Incidents {
		if updated[i] = a.s.incident(change.ID); updated[i] == nil {
			a.fail(w, http.StatusNotFound, "Not Found", "Incident "+change.ID+" not found")
			return
		}
	}
	out := make([]incidentJSON, len(updated))
	for i, inc := range updated {
		a.apply(inc, req.Incidents[i], from)
		out[i] = a.s.incidentJSON(inc)
	}
	writeJSON(w, http.StatusOK, page("incidents", out, 0, len(out), false))
}

func (a *restAPI) getIncident(w http.ResponseWriter, r *http.Request) {
	if inc, ok := a.incidentOr404(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]any{"incident": a.s.incidentJSON(inc)})
	}
}

func (a *restAPI) listIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key, statuses, services := q.Get("incident_key"), q["statuses[]"], q["service_ids[]"]
	var matching []incidentJSON
	for _, inc := range a.s.incidents {
		if (key == "" || inc.Key == key) &&
			(len(statuses) == 0 || slices.Contains(statuses, inc.Status)) &&
			(len(services) == 0 || slices.Contains(services, inc.ServiceID)) {
			matching = append(matching, a.s.incidentJSON(inc))
		}
	}
	writeJSON(w, http.StatusOK, paginate("incidents", matching, q))
}

func (a *restAPI) listLogEntries(w http.ResponseWriter, r *http.Request) {
	inc, ok := a.incidentOr404(w, r)
	if !ok {
		return
	}
	entryTypes := map[string]string{
		Triggered: "trigger_log_entry", Acknowledged: "acknowledge_log_entry", Resolved: "resolve_log_entry",
	}
	entries := make([]map[string]any, len(inc.Log))
	for i, change := range inc.Log {
		agent := a.s.agentRef(change.By)
		entries[i] = map[string]any{
			"id":         inc.ID + "L" + strconv.Itoa(i+1),
			"type":       entryTypes[change.Status],
			"summary":    change.Status + " by " + agent.Summary,
			"created_at": timestamp(change.At),
			"agent":      agent,
			"channel":    map[string]any{"type": "api"},
			"incident":   a.s.incidentRef(inc),
			"service":    serviceRef(),
		}
	}
	writeJSON(w, http.StatusOK, paginate("log_entries", entries, r.URL.Query()))
}

func (a *restAPI) requestResponders(w http.ResponseWriter, r *http.Request) {
	inc, ok := a.incidentOr404(w, r)
	if !ok {
		return
	}
	var req struct {
		RequesterID string `json:"requester_id"`
		Message     string `json:"message"`
		Targets     []struct {
			Target ref `json:"responder_request_target"`
		} `json:"responder_request_targets"`
	}
	if !a.decode(w, r, &req) {
		return
	}
	requester, ok := a.s.userByID(req.RequesterID)
	if !ok {
		a.fail(w, http.StatusBadRequest, "Invalid Input Provided", "Requester "+req.RequesterID+" not found")
		return
	}
	// Resolve every target before changing anything: PagerDuty refuses the whole request.
	asked := make([][]user, len(req.Targets))
	for i, t := range req.Targets {
		switch {
		case strings.HasPrefix(t.Target.Type, "user"):
			if u, ok := a.s.userByID(t.Target.ID); ok {
				asked[i] = []user{u}
			}
		case strings.HasPrefix(t.Target.Type, "escalation_policy") && t.Target.ID == EscalationPolicyID:
			u, _ := a.s.userByID(onCall)
			asked[i] = []user{u}
		}
		if asked[i] == nil {
			a.fail(w, http.StatusBadRequest, "Invalid Input Provided",
				"Responder request target "+t.Target.Type+" "+t.Target.ID+" not found")
			return
		}
	}
	now := a.s.now()
	targets := make([]map[string]any, len(req.Targets))
	for i, t := range req.Targets {
		var responders []map[string]any
		for _, u := range asked[i] {
			inc.addResponder(Responder{UserID: u.id, State: "pending", Message: req.Message, RequestedBy: requester.id, RequestedAt: now})
			responders = append(responders, a.s.responderJSON(inc, inc.responder(u.id)))
		}
		target := map[string]any{"id": t.Target.ID, "type": t.Target.Type, "incidents_responders": responders}
		targets[i] = map[string]any{"responder_request_target": target}
	}
	writeJSON(w, http.StatusOK, map[string]any{"responder_request": map[string]any{
		"incident":                  a.s.incidentRef(inc),
		"requester":                 a.s.userRef(requester),
		"requested_at":              timestamp(now),
		"message":                   req.Message,
		"responder_request_targets": targets,
	}})
}

// addResponder records a responder request; asking someone again renews the request.
func (inc *Incident) addResponder(r Responder) {
	for i := range inc.Responders {
		if inc.Responders[i].UserID == r.UserID {
			inc.Responders[i] = r
			return
		}
	}
	inc.Responders = append(inc.Responders, r)
}

func (inc *Incident) responder(userID string) Responder {
	for _, r := range inc.Responders {
		if r.UserID == userID {
			return r
		}
	}
	return Responder{}
}

func (a *restAPI) postStatusUpdate(w http.ResponseWriter, r *http.Request) {
	from, ok := a.requester(w, r)
	if !ok {
		return
	}
	inc, ok := a.incidentOr404(w, r)
	if !ok {
		return
	}
	var req struct {
		Message string `json:"message"`
	}
	if !a.decode(w, r, &req) {
		return
	}
	update := StatusUpdate{Message: req.Message, Sender: from.id, At: a.s.now()}
	inc.StatusUpdates = append(inc.StatusUpdates, update)
	writeJSON(w, http.StatusOK, map[string]any{"status_update": map[string]any{
		"id":         inc.ID + "S" + strconv.Itoa(len(inc.StatusUpdates)),
		"message":    update.Message,
		"created_at": timestamp(update.At),
		"sender":     a.s.userRef(from),
	}})
}

func (a *restAPI) addNote(w http.ResponseWriter, r *http.Request) {
	from, ok := a.requester(w, r)
	if !ok {
		return
	}
	inc, ok := a.incidentOr404(w, r)
	if !ok {
		return
	}
	var req struct {
		Note struct {
			Content string `json:"content"`
		} `json:"note"`
	}
	if !a.decode(w, r, &req) {
		return
	}
	inc.Notes = append(inc.Notes, Note{Content: req.Note.Content, Author: from.id, At: a.s.now()})
	writeJSON(w, http.StatusOK, map[string]any{"note": a.s.noteJSON(inc, len(inc.Notes)-1)})
}

func (a *restAPI) listNotes(w http.ResponseWriter, r *http.Request) {
	inc, ok := a.incidentOr404(w, r)
	if !ok {
		return
	}
	notes := make([]map[string]any, len(inc.Notes))
	for i := range inc.Notes {
		notes[i] = a.s.noteJSON(inc, i)
	}
	writeJSON(w, http.StatusOK, map[string]any{"notes": notes})
}

func (a *restAPI) listOnCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var oncalls []map[string]any
	if policies := q["escalation_policy_ids[]"]; len(policies) == 0 || slices.Contains(policies, EscalationPolicyID) {
		u, _ := a.s.userByID(onCall)
		var who any = a.s.userRef(u)
		if slices.Contains(q["include[]"], "users") {
			who = a.s.userJSON(u)
		}
		// Carol is on call around the clock, in daily shifts.
		start := a.s.now().Truncate(24 * time.Hour)
		oncalls = append(oncalls, map[string]any{
			"escalation_policy": ref{ID: EscalationPolicyID, Type: "escalation_policy_reference", Summary: "Analytics on-call"},
			"escalation_level":  1,
			"schedule":          ref{ID: ScheduleID, Type: "schedule_reference", Summary: "Analytics primary"},
			"user":              who,
			"start":             timestamp(start),
			"end":               timestamp(start.Add(24 * time.Hour)),
		})
	}
	writeJSON(w, http.StatusOK, paginate("oncalls", oncalls, q))
}

func (a *restAPI) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := strings.ToLower(q.Get("query"))
	var users []userJSON
	for _, u := range a.s.users {
		if strings.Contains(strings.ToLower(u.name), query) || strings.Contains(strings.ToLower(u.email), query) {
			users = append(users, a.s.userJSON(u))
		}
	}
	writeJSON(w, http.StatusOK, paginate("users", users, q))
}

func (a *restAPI) getUser(w http.ResponseWriter, r *http.Request) {
	u, ok := a.s.userByID(r.PathValue("id"))
	if !ok {
		a.fail(w, http.StatusNotFound, "Not Found", "User "+r.PathValue("id")+" not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": a.s.userJSON(u)})
}

// paginate answers one page of a list as PagerDuty does: limit (default 25, at most 100) and
// offset from the query, "more" when there is another page.
func paginate[T any](name string, all []T, q map[string][]string) map[string]any {
	limit, offset := 25, 0
	if v, err := strconv.Atoi(first(q["limit"])); err == nil && v > 0 {
		limit = min(v, 100)
	}
	if v, err := strconv.Atoi(first(q["offset"])); err == nil && v > 0 {
		offset = min(v, len(all))
	}
	end := min(offset+limit, len(all))
	return page(name, all[offset:end], offset, limit, end < len(all))
}

func page[T any](name string, items []T, offset, limit int, more bool) map[string]any {
	if items == nil {
		items = []T{} // PagerDuty answers an empty list, never null
	}
	return map[string]any{name: items, "offset": offset, "limit": limit, "more": more, "total": nil}
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}
