package fakemonitoring

import (
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
)

// The sandbox New Relic account: one APM application whose transactions take
// NewRelicResponseTime at every percentile, NewRelicResponseTimeHigh while FaultLatencyHigh is
// active.
const (
	NewRelicAPIKey           = "NRAK-SANDBOX0000000000000000000"
	NewRelicAccountID        = 3141592
	NewRelicApp              = "analytics-production"
	NewRelicResponseTime     = 180 * time.Millisecond
	NewRelicResponseTimeHigh = 4 * NewRelicResponseTime
)

var (
	// nrqlDocument is the one NerdGraph document the sandbox answers: an account's NRQL results,
	// with the account and the query as variables.
	nrqlDocument = regexp.MustCompile(`^\s*query\b\s*(\w+\s*)?\(\s*\$accountId\s*:\s*Int!\s*,\s*\$nrql\s*:\s*Nrql!\s*\)\s*` +
		`\{\s*actor\s*\{\s*account\s*\(\s*id\s*:\s*\$accountId\s*\)\s*\{\s*nrql\s*\(\s*query\s*:\s*\$nrql\s*\)\s*` +
		`\{\s*results\s*\}\s*\}\s*\}\s*\}\s*$`)
	// percentileQuery is the one NRQL query the sandbox answers; SINCE and UNTIL are epoch milliseconds.
	percentileQuery = regexp.MustCompile(`^SELECT percentile\(duration, (\d{1,2})\) FROM Transaction ` +
		`WHERE appName = '((?:[^'\\]|\\.)*)' SINCE (\d+) UNTIL (\d+)$`)
	unescapeNRQL = strings.NewReplacer(`\\`, `\`, `\'`, `'`)
)

type graphQLError struct {
	Message    string            `json:"message"`
	Path       []string          `json:"path,omitempty"`
	Extensions map[string]string `json:"extensions,omitempty"`
}

// nerdGraph answers POST /graphql for a percentile of the application's transaction durations.
func (s *Server) nerdGraph(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("API-Key") != NewRelicAPIKey {
		s.refuse(w, r, http.StatusUnauthorized, map[string]any{"errors": []graphQLError{{
			Message: "Bad API Key or no API Key provided", Extensions: map[string]string{"error_code": "BAD_API_KEY"},
		}}})
		return
	}
	graphQLErrors := func(data any, e graphQLError) {
		s.refuse(w, r, http.StatusOK, map[string]any{"data": data, "errors": []graphQLError{e}})
	}
	var request struct {
		Query     string `json:"query"`
		Variables struct {
			AccountID *int    `json:"accountId"`
			NRQL      *string `json:"nrql"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&request); err != nil {
		s.refuse(w, r, http.StatusBadRequest, map[string]any{"errors": []graphQLError{{Message: "invalid JSON body: " + err.Error()}}})
		return
	}
	switch {
	case !nrqlDocument.MatchString(request.Query):
		graphQLErrors(nil, graphQLError{Message: "the sandbox NerdGraph answers only query($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { nrql(query: $nrql) { results } } } }"})
		return
	case request.Variables.AccountID == nil || request.Variables.NRQL == nil:
		graphQLErrors(nil, graphQLError{Message: "Variables '$accountId' of type 'Int!' and '$nrql' of type 'Nrql!' must be provided."})
		return
	case *request.Variables.AccountID != NewRelicAccountID:
		graphQLErrors(map[string]any{"actor": map[string]any{"account": nil}}, graphQLError{
			Message: "Not authorized to access account " + strconv.Itoa(*request.Variables.AccountID), Path: []string{"actor", "account"},
		})
		return
	}
	parts := percentileQuery.FindStringSubmatch(*request.Variables.NRQL)
	if parts == nil {
		graphQLErrors(map[string]any{"actor": map[string]any{"account": map[string]any{"nrql": nil}}}, graphQLError{
			Message:    "NRQL Syntax Error: the sandbox answers SELECT percentile(duration, N) FROM Transaction WHERE appName = '…' SINCE <ms> UNTIL <ms> only",
			Path:       []string{"actor", "account", "nrql"},
			Extensions: map[string]string{"errorClass": "INVALID_INPUT"},
		})
		return
	}
	percent, _ := strconv.Atoi(parts[1])
	since, _ := strconv.ParseInt(parts[3], 10, 64)
	until, _ := strconv.ParseInt(parts[4], 10, 64)
	var value any // null when there were no transactions
	if unescapeNRQL.Replace(parts[2]) == NewRelicApp {
		if seconds, ok := s.responseTimePercentile(percent, time.UnixMilli(since), time.UnixMilli(until)); ok {
			value = seconds
		}
	}
	result := map[string]any{"percentile.duration": map[string]any{parts[1]: value}}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"actor": map[string]any{
		"account": map[string]any{"nrql": map[string]any{"results": []any{result}}},
	}}})
}

// responseTimePercentile is the nearest-rank percentile, in seconds, of the per-minute response
// times from since to until.
func (s *Server) responseTimePercentile(percent int, since, until time.Time) (float64, bool) {
	minutes := s.minutes(since, until)
	if len(minutes) == 0 {
		return 0, false
	}
	high := 0
	for _, minute := range minutes {
		if s.faults.ActiveAt(fakeaws.FaultLatencyHigh, minute) {
			high++
		}
	}
	// Sorted, the high minutes come last: the percentile is high when its rank falls among them.
	rank := max(int(math.Ceil(float64(percent)/100*float64(len(minutes)))), 1)
	if rank > len(minutes)-high {
		return NewRelicResponseTimeHigh.Seconds(), true
	}
	return NewRelicResponseTime.Seconds(), true
}
