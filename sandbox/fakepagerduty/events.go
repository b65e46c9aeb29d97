package fakepagerduty

import (
	"encoding/json"
	"net/http"
)

// eventsAPI serves PagerDuty's Events API v2: events for the service's integration open,
// acknowledge and resolve incidents by dedup key.
type eventsAPI struct {
	s   *Server
	mux *http.ServeMux
}

func newEventsAPI(s *Server) *eventsAPI {
	a := &eventsAPI{s: s, mux: http.NewServeMux()}
	a.mux.HandleFunc("POST /v2/enqueue", a.enqueue)
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, http.StatusNotFound, "Not Found")
	})
	return a
}

func (a *eventsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// authenticate accepts every request: the Events API authenticates an event by its routing key.
func (a *eventsAPI) authenticate(http.ResponseWriter, *http.Request) bool { return true }

// eventStatuses are the Events API's "status" words for the statuses the fake answers with.
var eventStatuses = map[int]string{
	http.StatusBadRequest:      "invalid event",
	http.StatusTooManyRequests: "throttle event",
}

// fail answers in the Events API's error format, {"status","message","errors"}.
func (a *eventsAPI) fail(w http.ResponseWriter, status int, message string, details ...string) {
	body := map[string]any{"status": eventStatuses[status], "message": message}
	if body["status"] == "" {
		body["status"] = "error"
	}
	if len(details) > 0 {
		body["errors"] = details
	}
	writeJSON(w, status, body)
}

func (a *eventsAPI) enqueue(w http.ResponseWriter, r *http.Request) {
	var event struct {
		RoutingKey string `json:"routing_key"`
		Action     string `json:"event_action"`
		DedupKey   string `json:"dedup_key"`
		Payload    *struct {
			Summary  string `json:"summary"`
			Severity string `json:"severity"`
		} `json:"payload"`
	}
	if err := json.NewDecoder(r.Body).Decode(&event); err != nil {
		a.fail(w, http.StatusBadRequest, "Event object is invalid", err.Error())
		return
	}
	switch {
	case event.RoutingKey != RoutingKey:
		a.fail(w, http.StatusBadRequest, "Event object is invalid", "Invalid routing key")
		return
	case event.Action == "trigger" && event.Payload == nil:
		a.fail(w, http.StatusBadRequest, "Event object is invalid", "'payload' is missing or blank")
		return
	case event.Action != "trigger" && event.DedupKey == "":
		a.fail(w, http.StatusBadRequest, "Event object is invalid", "'dedup_key' is missing or blank")
		return
	}
	if event.DedupKey == "" {
		event.DedupKey = a.s.nextID("dedup")
	}
	open := a.s.openIncidentWithKey(ServiceID, event.DedupKey)
	switch {
	case event.Action == "trigger" && open == nil:
		a.s.trigger(event.Payload.Summary, event.DedupKey, urgencyOf(event.Payload.Severity), eventsAgent)
	case event.Action == "acknowledge" && open != nil:
		open.setStatus(Acknowledged, eventsAgent, a.s.now())
	case event.Action == "resolve" && open != nil:
		open.setStatus(Resolved, eventsAgent, a.s.now())
	}
	// A trigger for an open incident only adds an alert to it, and an acknowledge or resolve
	// that matches nothing is dropped; PagerDuty accepts both all the same.
	writeJSON(w, http.StatusAccepted, map[string]any{
		"status": "success", "message": "Event processed", "dedup_key": event.DedupKey,
	})
}

// urgencyOf is the service's severity-based urgency rule.
func urgencyOf(severity string) string {
	if severity == "critical" || severity == "error" {
		return "high"
	}
	return "low"
}
