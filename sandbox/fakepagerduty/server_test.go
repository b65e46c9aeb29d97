package fakepagerduty_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakepagerduty"
)

type testBundle struct {
	srv    *fakepagerduty.Server
	clock  *stoppedClock
	client *pagerduty.Client
}

// stoppedClock moves only when the test advances it, so that times compare exactly.
type stoppedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stoppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stoppedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// setup starts a fake that checks requests against PagerDuty's API descriptions, or skips the
// test when the descriptions are not found.
func setup(t *testing.T) testBundle {
	t.Helper()
	dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	if err != nil {
		t.Skipf("skipping: %v (set OPSBOT_SPECS_DIR to the folder of vendor API descriptions)", err)
	}
	c := &stoppedClock{now: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
	srv, err := fakepagerduty.New(fakepagerduty.Options{Clock: c, SpecsDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	client := pagerduty.NewClient(fakepagerduty.Token,
		pagerduty.WithAPIEndpoint(srv.APIURL()), pagerduty.WithV2EventsAPIEndpoint(srv.EventsURL()))
	return testBundle{srv: srv, clock: c, client: client}
}

// send makes a raw request as go-pagerduty would, with the headers that the case does not
// override, and returns the status and decoded body.
func send(t *testing.T, method, url string, header map[string]string, body string) (int, http.Header, map[string]any) {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	r.Header.Set("Accept", "application/vnd.pagerduty+json;version=2")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Token token="+fakepagerduty.Token)
	for k, v := range header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var decoded map[string]any
	require.NoError(t, json.Unmarshal(data, &decoded), "body: %s", data)
	return resp.StatusCode, resp.Header, decoded
}

const newIncident = `{"incident":{"type":"incident","title":"Checkout errors","urgency":"high",` +
	`"incident_key":"inc-1","service":{"id":"PSANDBOX","type":"service_reference"}}}`

func trigger(dedupKey string) *pagerduty.V2Event {
	return &pagerduty.V2Event{
		RoutingKey: fakepagerduty.RoutingKey, Action: "trigger", DedupKey: dedupKey,
		Payload: &pagerduty.V2Payload{Summary: "Checkout errors", Source: "opsbot", Severity: "critical"},
	}
}

func TestRejectsWhatPagerDutyWould(t *testing.T) {
	t.Parallel()
	b := setup(t)
	from := map[string]string{"From": "opsbot@example.com"}
	// An open incident with key inc-1, for the duplicate case.
	status, _, _ := send(t, "POST", b.srv.APIURL()+"/incidents", from, newIncident)
	require.Equal(t, http.StatusCreated, status)

	cases := []struct {
		name        string
		method, url string
		header      map[string]string
		body        string
		wantStatus  int
		wantError   string // in the REST error's message and errors, or the Events API's
	}{
		{name: "no token", method: "GET", url: "/incidents", header: map[string]string{"Authorization": ""},
			wantStatus: 401, wantError: "Authentication failed"},
		{name: "wrong token", method: "GET", url: "/incidents", header: map[string]string{"Authorization": "Token token=guess"},
			wantStatus: 401, wantError: "Authentication failed"},
		{name: "write without From", method: "POST", url: "/incidents", body: newIncident,
			wantStatus: 400, wantError: `parameter "From" in header`},
		{name: "From is not a user of the account", method: "POST", url: "/incidents",
			header: map[string]string{"From": "mallory@example.com"}, body: newIncident,
			wantStatus: 400, wantError: "valid user"},
		{name: "urgency outside the enum", method: "POST", url: "/incidents", header: from,
			body: strings.Replace(newIncident, `"high"`, `"urgent"`, 1), wantStatus: 400, wantError: "urgency"},
		{name: "second open incident with one key", method: "POST", url: "/incidents", header: from, body: newIncident,
			wantStatus: 400, wantError: "Open incident with matching dedup key already exists on this service"},
		{name: "unknown service", method: "POST", url: "/incidents", header: from,
			body: strings.Replace(newIncident, "PSANDBOX", "PNOPE", 1), wantStatus: 400, wantError: "Service not found"},
		{name: "unknown incident", method: "GET", url: "/incidents/QNOPE", wantStatus: 404, wantError: "Not Found"},
		{name: "no such operation", method: "POST", url: "/incidents/Q1/escalate", header: from, body: `{}`,
			wantStatus: 404, wantError: "no operation"},
		{name: "event to the REST endpoint", method: "POST", url: "/v2/enqueue", body: `{}`,
			wantStatus: 404, wantError: "no operation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			status, _, body := send(t, c.method, b.srv.APIURL()+c.url, c.header, c.body)
			require.Equal(t, c.wantStatus, status, "body: %v", body)
			errObj, ok := body["error"].(map[string]any)
			require.True(t, ok, "PagerDuty's error format: %v", body)
			require.Contains(t, fmt.Sprint(errObj["message"], errObj["errors"]), c.wantError)
		})
	}
	require.Len(t, b.srv.Incidents(), 1, "no refused request may change the account")
}

func TestEventsRejectsWhatPagerDutyWould(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name      string
		body      string
		wantError string
	}{
		{name: "severity outside the enum", wantError: "severity",
			body: `{"routing_key":"` + fakepagerduty.RoutingKey + `","event_action":"trigger","payload":{"summary":"s","source":"opsbot","severity":"urgent"}}`},
		{name: "unknown routing key", wantError: "Invalid routing key",
			body: `{"routing_key":"R0NOPE","event_action":"trigger","payload":{"summary":"s","source":"opsbot","severity":"critical"}}`},
		{name: "trigger without payload", wantError: "payload",
			body: `{"routing_key":"` + fakepagerduty.RoutingKey + `","event_action":"trigger"}`},
		{name: "resolve without dedup key", wantError: "dedup_key",
			body: `{"routing_key":"` + fakepagerduty.RoutingKey + `","event_action":"resolve"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			status, _, body := send(t, "POST", b.srv.EventsURL()+"/v2/enqueue", nil, c.body)
			require.Equal(t, http.StatusBadRequest, status, "body: %v", body)
			require.Equal(t, "invalid event", body["status"])
			require.Contains(t, fmt.Sprint(body["errors"]), c.wantError)
		})
	}
	require.Empty(t, b.srv.Incidents())
}

func TestOnCallAcknowledgesAfterTheDelay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.client.ManageEventWithContext(ctx, trigger("inc-1"))
	require.NoError(t, err)
	created := b.srv.Incidents()[0].CreatedAt()

	b.clock.Advance(fakepagerduty.DefaultAckAfter - time.Second)
	list, err := b.client.ListIncidentsWithContext(ctx, pagerduty.ListIncidentsOptions{IncidentKey: "inc-1"})
	require.NoError(t, err)
	require.Len(t, list.Incidents, 1)
	require.Equal(t, fakepagerduty.Triggered, list.Incidents[0].Status)
	require.Equal(t, fakepagerduty.Carol, list.Incidents[0].Assignments[0].Assignee.ID, "assigned to the on-call")

	b.clock.Advance(time.Minute)
	inc, err := b.client.GetIncidentWithContext(ctx, list.Incidents[0].ID)
	require.NoError(t, err)
	require.Equal(t, fakepagerduty.Acknowledged, inc.Status)
	require.Equal(t, fakepagerduty.Carol, inc.Acknowledgements[0].Acknowledger.ID)

	got := b.srv.Incidents()[0]
	require.Equal(t, created.Add(fakepagerduty.DefaultAckAfter), got.AcknowledgedAt(),
		"acknowledged when the delay ran out, not when someone looked")
	require.Equal(t, []fakepagerduty.Change{
		{Status: fakepagerduty.Triggered, At: created, By: "events"},
		{Status: fakepagerduty.Acknowledged, At: created.Add(fakepagerduty.DefaultAckAfter), By: fakepagerduty.Carol},
	}, got.Log)
}

func TestEventsDeduplicateByKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for range 2 {
		resp, err := b.client.ManageEventWithContext(ctx, trigger("inc-1"))
		require.NoError(t, err)
		require.Equal(t, "inc-1", resp.DedupKey)
	}
	require.Len(t, b.srv.Incidents(), 1, "a second trigger with an open dedup key pages nobody")

	_, err := b.client.ManageEventWithContext(ctx, &pagerduty.V2Event{
		RoutingKey: fakepagerduty.RoutingKey, Action: "resolve", DedupKey: "inc-1"})
	require.NoError(t, err)
	require.Equal(t, fakepagerduty.Resolved, b.srv.Incidents()[0].Status)

	resp, err := b.client.ManageEventWithContext(ctx, trigger(""))
	require.NoError(t, err)
	require.NotEmpty(t, resp.DedupKey, "PagerDuty makes up a dedup key when the trigger has none")
	require.Len(t, b.srv.Incidents(), 2)
	require.Equal(t, "high", b.srv.Incidents()[1].Urgency, "critical events are urgent")
}

func TestResponderRequestsStatusUpdatesAndNotes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.client.ManageEventWithContext(ctx, trigger("inc-1"))
	require.NoError(t, err)
	id := b.srv.Incidents()[0].ID

	resp, err := b.client.ResponderRequestWithContext(ctx, id, pagerduty.ResponderRequestOptions{
		From: "opsbot@example.com", Message: "Please join #inc-checkout", RequesterID: fakepagerduty.Opsbot,
		Targets: []pagerduty.ResponderRequestTargetWrapper{
			{Target: pagerduty.ResponderRequestTarget{APIObject: pagerduty.APIObject{ID: fakepagerduty.Dave, Type: "user_reference"}}},
		},
	})
	require.NoError(t, err)
	require.Equal(t, fakepagerduty.Dave, resp.ResponderRequest.Targets[0].Target.Responders[0].User.ID)
	_, err = b.client.CreateIncidentStatusUpdate(ctx, id, "opsbot@example.com", "Rolled back v1.1.0")
	require.NoError(t, err)
	_, err = b.client.CreateIncidentNoteWithContext(ctx, id, pagerduty.IncidentNote{
		Content: "Started after the deploy", User: pagerduty.APIObject{Summary: "opsbot@example.com"}})
	require.NoError(t, err)

	got := b.srv.Incidents()[0]
	require.Len(t, got.Responders, 1)
	require.Equal(t, fakepagerduty.Responder{UserID: fakepagerduty.Dave, State: "pending", Message: "Please join #inc-checkout",
		RequestedBy: fakepagerduty.Opsbot, RequestedAt: got.CreatedAt()}, got.Responders[0])
	require.Equal(t, []fakepagerduty.StatusUpdate{{Message: "Rolled back v1.1.0", Sender: fakepagerduty.Opsbot, At: got.CreatedAt()}},
		got.StatusUpdates)
	require.Equal(t, "Started after the deploy", got.Notes[0].Content)
}

func TestOnCallsAndUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	oncalls, err := b.client.ListOnCallsWithContext(ctx, pagerduty.ListOnCallOptions{
		EscalationPolicyIDs: []string{fakepagerduty.EscalationPolicyID}, Includes: []string{"users"}})
	require.NoError(t, err)
	require.Len(t, oncalls.OnCalls, 1)
	require.Equal(t, "carol@example.com", oncalls.OnCalls[0].User.Email)

	other, err := b.client.ListOnCallsWithContext(ctx, pagerduty.ListOnCallOptions{EscalationPolicyIDs: []string{"POTHER"}})
	require.NoError(t, err)
	require.Empty(t, other.OnCalls)

	users, err := b.client.ListUsersWithContext(ctx, pagerduty.ListUsersOptions{Query: "dave@example.com"})
	require.NoError(t, err)
	require.Len(t, users.Users, 1)
	require.Equal(t, fakepagerduty.Dave, users.Users[0].ID)
	user, err := b.client.GetUserWithContext(ctx, fakepagerduty.Carol, pagerduty.GetUserOptions{})
	require.NoError(t, err)
	require.Equal(t, "Carol", user.Name)
}

func TestFaults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Error(t, b.srv.Fail("timeout", 1), "unknown kinds are refused")
	require.NoError(t, b.srv.Fail(fakepagerduty.Fault429, 1))
	require.NoError(t, b.srv.Fail(fakepagerduty.Fault500, 1))

	status, header, body := send(t, "GET", b.srv.APIURL()+"/oncalls", nil, "")
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "1", header.Get("Retry-After"))
	require.Contains(t, body, "error")
	status, _, body = send(t, "POST", b.srv.EventsURL()+"/v2/enqueue", nil, `{}`)
	require.Equal(t, http.StatusInternalServerError, status, "faults hit the Events API too")
	require.Contains(t, body, "status", "in the Events API's error format")
	status, _, _ = send(t, "GET", b.srv.APIURL()+"/oncalls", nil, "")
	require.Equal(t, http.StatusOK, status, "the faults are used up")

	require.NoError(t, b.srv.Fail(fakepagerduty.Fault500, 5))
	b.srv.Clear()
	status, _, _ = send(t, "GET", b.srv.APIURL()+"/oncalls", nil, "")
	require.Equal(t, http.StatusOK, status)

	require.Equal(t, []fakepagerduty.Call{
		{Method: "GET", Path: "/oncalls", Status: 429},
		{Method: "POST", Path: "/v2/enqueue", Status: 500},
		{Method: "GET", Path: "/oncalls", Status: 200},
		{Method: "GET", Path: "/oncalls", Status: 200},
	}, b.srv.Calls())
}

func TestUpdateOneIncident(t *testing.T) {
	t.Parallel()
	b := setup(t)
	from := map[string]string{"From": "dave@example.com"}
	status, _, body := send(t, "POST", b.srv.APIURL()+"/incidents", from, newIncident)
	require.Equal(t, http.StatusCreated, status)
	id := body["incident"].(map[string]any)["id"].(string)

	b.clock.Advance(time.Minute)
	status, _, body = send(t, "PUT", b.srv.APIURL()+"/incidents/"+id, from,
		`{"incident":{"type":"incident_reference","status":"resolved"}}`)
	require.Equal(t, http.StatusOK, status, "body: %v", body)
	require.Equal(t, "resolved", body["incident"].(map[string]any)["status"])

	got := b.srv.Incidents()[0]
	require.Equal(t, fakepagerduty.Change{Status: fakepagerduty.Resolved, At: got.CreatedAt().Add(time.Minute), By: fakepagerduty.Dave},
		got.Log[len(got.Log)-1])
	require.Equal(t, got.CreatedAt().Add(time.Minute), got.ResolvedAt())
	require.True(t, got.AcknowledgedAt().IsZero(), "resolved before carol got to it")
	require.Empty(t, got.AssignedTo, "a resolved incident is assigned to nobody")
}
