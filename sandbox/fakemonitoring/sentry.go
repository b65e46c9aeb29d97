package fakemonitoring

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
)

// The sandbox Sentry organisation: one project, whose app reports SentryErrorsPerMinute errors,
// SentrySpikeErrorsPerMinute while FaultSentrySpike is active.
const (
	SentryToken                = "sntryu_sandbox"
	SentryOrg                  = "acme"
	SentryProjectID            = 4505321021
	SentryErrorsPerMinute      = 2
	SentrySpikeErrorsPerMinute = 5 * SentryErrorsPerMinute
)

// sentryEvents answers the Discover query GET /api/0/organizations/{org}/events/ for
// field=count() on the errors dataset between start and end: the errors of each minute from
// start.
func (s *Server) sentryEvents(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, detail string) {
		s.refuse(w, r, status, map[string]string{"detail": detail})
	}
	switch r.Header.Get("Authorization") {
	case "Bearer " + SentryToken:
	case "":
		refuse(http.StatusUnauthorized, "Authentication credentials were not provided.")
		return
	default:
		refuse(http.StatusUnauthorized, "Invalid token")
		return
	}
	if r.PathValue("org") != SentryOrg {
		refuse(http.StatusNotFound, "The requested resource does not exist")
		return
	}
	query := r.URL.Query()
	start, startErr := parseSentryTime(query.Get("start"))
	end, endErr := parseSentryTime(query.Get("end"))
	switch {
	case query.Get("dataset") != "errors":
		refuse(http.StatusBadRequest, "the sandbox answers the errors dataset only (dataset=errors)")
		return
	case !slices.Equal(query["field"], []string{"count()"}):
		refuse(http.StatusBadRequest, "the sandbox answers field=count() only")
		return
	case query.Has("statsPeriod") || startErr != nil || endErr != nil:
		refuse(http.StatusBadRequest, "the sandbox needs start and end as ISO-8601 times, and no statsPeriod")
		return
	case !end.After(start):
		refuse(http.StatusBadRequest, "start must be before end")
		return
	}
	for _, project := range query["project"] {
		if id, err := strconv.ParseInt(project, 10, 64); err != nil || id != SentryProjectID {
			refuse(http.StatusForbidden, "You do not have permission to perform this action.")
			return
		}
	}
	count := 0
	for _, minute := range s.minutes(start, end) {
		if s.faults.ActiveAt(fakeaws.FaultSentrySpike, minute) {
			count += SentrySpikeErrorsPerMinute
		} else {
			count += SentryErrorsPerMinute
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": []map[string]int{{"count()": count}},
		"meta": map[string]any{"fields": map[string]string{"count()": "integer"}},
	})
}

// parseSentryTime reads an ISO-8601 time as Sentry takes it: with a zone, or in UTC without one.
func parseSentryTime(text string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, text); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05.999999999", text)
}
