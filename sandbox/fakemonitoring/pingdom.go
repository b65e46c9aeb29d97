package fakemonitoring

import (
	"net/http"
	"strconv"
	"time"

	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
)

// The sandbox Pingdom account: one uptime check of the analytics app, down while
// FaultHealthUnhealthy is active.
const (
	PingdomToken   = "pingdom-sandbox-token"
	PingdomCheckID = 85975
	PingdomCheck   = "analytics.example.com"
)

// pingdomCheck answers GET /api/3.1/checks/{checkid} with the check's detailed description.
func (s *Server) pingdomCheck(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, message string) {
		s.refuse(w, r, status, map[string]any{"error": map[string]any{
			"statuscode": status, "statusdesc": http.StatusText(status), "errormessage": message,
		}})
	}
	if r.Header.Get("Authorization") != "Bearer "+PingdomToken {
		refuse(http.StatusUnauthorized, "Invalid or missing API token")
		return
	}
	if id, err := strconv.Atoi(r.PathValue("id")); err != nil || id != PingdomCheckID {
		refuse(http.StatusNotFound, "Check not found")
		return
	}
	now := s.clock.Now()
	status := "up"
	if s.faults.Active(fakeaws.FaultHealthUnhealthy) {
		status = "down"
	}
	writeJSON(w, http.StatusOK, map[string]any{"check": map[string]any{
		"id":               PingdomCheckID,
		"name":             PingdomCheck,
		"hostname":         PingdomCheck,
		"status":           status,
		"resolution":       1,
		"created":          s.started.Add(-history).Unix(),
		"lasttesttime":     now.Truncate(time.Minute).Unix(),
		"lastresponsetime": NewRelicResponseTime.Milliseconds(),
		"type":             map[string]any{"http": map[string]any{"url": "/health", "encryption": true, "port": 443}},
	}})
}
