package apispec_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/apispec"
)

// TestPagerDutyAcceptsWhatGoPagerDutySends sends the calls opsbot makes through the real
// go-pagerduty client and checks that PagerDuty's descriptions accept every one of them.
func TestPagerDutyAcceptsWhatGoPagerDutySends(t *testing.T) {
	t.Parallel()
	dir := specsDir(t)
	rest, err := apispec.PagerDutyREST(dir)
	require.NoError(t, err)
	events, err := apispec.PagerDutyEvents(dir)
	require.NoError(t, err)

	var mu sync.Mutex
	var refused []error
	validating := func(v *apispec.Validator) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			if err := v.ValidateRequest(r, body); err != nil {
				mu.Lock()
				refused = append(refused, err)
				mu.Unlock()
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{}`)
		})
	}
	restSrv := httptest.NewServer(validating(rest))
	defer restSrv.Close()
	eventsSrv := httptest.NewServer(validating(events))
	defer eventsSrv.Close()
	pd := pagerduty.NewClient("y_NbAkKc66ryYTWUXYEu",
		pagerduty.WithAPIEndpoint(restSrv.URL), pagerduty.WithV2EventsAPIEndpoint(eventsSrv.URL))
	ctx := context.Background()
	const from = "opsbot@example.com"

	// Only the requests matter here; go-pagerduty's reading of the bare {} answer does not.
	calls := map[string]func(){
		"create an incident": func() {
			_, _ = pd.CreateIncidentWithContext(ctx, from, &pagerduty.CreateIncidentOptions{
				Title: "Checkout errors", Urgency: "high",
				Service: &pagerduty.APIReference{ID: "PSERVICE", Type: "service_reference"},
			})
		},
		"acknowledge an incident": func() {
			_, _ = pd.ManageIncidentsWithContext(ctx, from, []pagerduty.ManageIncidentsOptions{{ID: "PINC", Status: "acknowledged"}})
		},
		"add a note": func() {
			_, _ = pd.CreateIncidentNoteWithContext(ctx, "PINC", pagerduty.IncidentNote{Content: "Rolled back to v1.3.2"})
		},
		"list who is on call": func() {
			_, _ = pd.ListOnCallsWithContext(ctx, pagerduty.ListOnCallOptions{EscalationPolicyIDs: []string{"PPOLICY"}})
		},
		"trigger an alert": func() {
			_, _ = pd.ManageEventWithContext(ctx, &pagerduty.V2Event{
				RoutingKey: "R015", Action: "trigger", DedupKey: "inc-1",
				Payload: &pagerduty.V2Payload{Summary: "Checkout errors", Source: "opsbot", Severity: "critical"},
			})
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			mu.Lock()
			refused = nil
			mu.Unlock()
			call()
			mu.Lock()
			defer mu.Unlock()
			require.Empty(t, refused)
		})
	}
}
