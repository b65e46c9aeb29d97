package fakestatuspage_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakestatuspage"
)

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

type testBundle struct {
	srv   *fakestatuspage.Server
	clock *stoppedClock
}

// setup starts a fake that checks requests against Statuspage's API description, or skips the
// test when the description is not found.
func setup(t *testing.T, opts fakestatuspage.Options) testBundle {
	t.Helper()
	dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	if err != nil {
		t.Skipf("skipping: %v (set OPSBOT_SPECS_DIR to the folder of vendor API descriptions)", err)
	}
	c := &stoppedClock{now: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
	opts.Clock, opts.SpecsDir = c, dir
	srv, err := fakestatuspage.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return testBundle{srv: srv, clock: c}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any // objects only; lists are checked through the inspection methods
}

// send makes a request with the API key, unless header overrides it, and decodes an object
// answer.
func (b testBundle) send(t *testing.T, method, path string, header map[string]string, body string) answer {
	t.Helper()
	r, err := http.NewRequest(method, b.srv.APIURL()+path, strings.NewReader(body))
	require.NoError(t, err)
	r.Header.Set("Authorization", "OAuth "+fakestatuspage.APIKey)
	r.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if strings.HasPrefix(string(data), "{") {
		require.NoError(t, json.Unmarshal(data, &a.body))
	}
	return a
}

const incidents = "/pages/" + fakestatuspage.PageID + "/incidents"

func TestRejectsWhatStatuspageWould(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestatuspage.Options{})
	cases := []struct {
		name        string
		method      string
		path        string
		header      map[string]string
		body        string
		wantStatus  int
		wantMessage string
	}{
		{name: "no key", method: "GET", path: incidents, header: map[string]string{"Authorization": ""},
			wantStatus: 401, wantMessage: "Could not authenticate"},
		{name: "another page's key", method: "GET", path: incidents, header: map[string]string{"Authorization": "OAuth guess"},
			wantStatus: 401, wantMessage: "Could not authenticate"},
		{name: "status outside the enum", method: "POST", path: incidents,
			body: `{"incident":{"name":"Checkout errors","status":"on fire"}}`, wantStatus: 400, wantMessage: "status"},
		{name: "name missing", method: "POST", path: incidents,
			body: `{"incident":{"status":"investigating"}}`, wantStatus: 400, wantMessage: "name"},
		{name: "the .json suffix of the old docs", method: "GET", path: incidents + ".json",
			wantStatus: 404, wantMessage: "no operation"},
		{name: "unknown page", method: "GET", path: "/pages/otherpage/incidents", wantStatus: 404, wantMessage: "could not be found"},
		{name: "component of no page", method: "POST", path: incidents,
			body:       `{"incident":{"name":"Checkout errors","components":{"nope":"major_outage"}}}`,
			wantStatus: 422, wantMessage: "Component nope does not belong"},
		{name: "component status Statuspage does not have", method: "POST", path: incidents,
			body:       `{"incident":{"name":"Checkout errors","components":{"apicomponent":"on_fire"}}}`,
			wantStatus: 422, wantMessage: "not a component status"},
		{name: "metadata value that is not an object", method: "POST", path: incidents,
			body:       `{"incident":{"name":"Checkout errors","metadata":{"opsbot":"inc-1"}}}`,
			wantStatus: 422, wantMessage: "must be an object"},
		{name: "name too long", method: "POST", path: incidents,
			body: `{"incident":{"name":"` + strings.Repeat("x", 256) + `"}}`, wantStatus: 422, wantMessage: "Name is too long"},
		{name: "unknown incident", method: "PATCH", path: incidents + "/nope",
			body: `{"incident":{"status":"resolved"}}`, wantStatus: 404, wantMessage: "could not be found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := b.send(t, c.method, c.path, c.header, c.body)
			require.Equal(t, c.wantStatus, got.status, "body: %v", got.body)
			require.Contains(t, got.body["message"], c.wantMessage)
		})
	}
	require.Empty(t, b.srv.Incidents(), "no refused request may change the page")
}

func TestIncidentLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestatuspage.Options{})
	created := b.send(t, "POST", incidents, nil, `{"incident":{"name":"Checkout errors","status":"investigating",`+
		`"body":"We are investigating errors at checkout.","metadata":{"opsbot":{"key":"inc-1"}},`+
		`"component_ids":["apicomponent"],"components":{"apicomponent":"major_outage"}}}`)
	require.Equal(t, http.StatusCreated, created.status, "body: %v", created.body)
	require.Equal(t, "critical", created.body["impact"], "worked out from the worst component")
	id := created.body["id"].(string)
	start := b.clock.Now()

	b.clock.Advance(10 * time.Minute)
	updated := b.send(t, "PATCH", incidents+"/"+id, nil, `{"incident":{"status":"identified","body":"A bad deploy; rolling back."}}`)
	require.Equal(t, http.StatusOK, updated.status, "body: %v", updated.body)

	b.clock.Advance(20 * time.Minute)
	resolved := b.send(t, "PATCH", incidents+"/"+id, nil, `{"incident":{"status":"resolved","body":"Fixed.",`+
		`"deliver_notifications":false,"components":{"apicomponent":"operational"}}}`)
	require.Equal(t, http.StatusOK, resolved.status, "body: %v", resolved.body)
	require.Equal(t, "none", resolved.body["impact"])

	got := b.srv.Incidents()
	require.Len(t, got, 1)
	require.Equal(t, []fakestatuspage.Update{
		{ID: got[0].Updates[0].ID, Status: "investigating", Body: "We are investigating errors at checkout.", At: start, Notified: true,
			Components: []fakestatuspage.ComponentChange{{ID: fakestatuspage.ComponentAPI, OldStatus: "operational", NewStatus: "major_outage"}}},
		{ID: got[0].Updates[1].ID, Status: "identified", Body: "A bad deploy; rolling back.", At: start.Add(10 * time.Minute), Notified: true},
		{ID: got[0].Updates[2].ID, Status: "resolved", Body: "Fixed.", At: start.Add(30 * time.Minute), Notified: false,
			Components: []fakestatuspage.ComponentChange{{ID: fakestatuspage.ComponentAPI, OldStatus: "major_outage", NewStatus: "operational"}}},
	}, got[0].Updates)
	require.Equal(t, start.Add(30*time.Minute), got[0].ResolvedAt)
	require.Equal(t, map[string]any{"opsbot": map[string]any{"key": "inc-1"}}, got[0].Metadata)
	for _, c := range b.srv.Components() {
		require.Equal(t, fakestatuspage.Operational, c.Status, c.Name)
	}
}

func TestRateLimitIsPerMinute(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestatuspage.Options{RequestsPerMinute: 3})
	for range 3 {
		require.Equal(t, http.StatusOK, b.send(t, "GET", "/pages/"+fakestatuspage.PageID+"/components/apicomponent", nil, "").status)
	}
	limited := b.send(t, "GET", "/pages/"+fakestatuspage.PageID+"/components/apicomponent", nil, "")
	require.Equal(t, http.StatusTooManyRequests, limited.status)
	wait, err := strconv.Atoi(limited.header.Get("Retry-After"))
	require.NoError(t, err)
	require.True(t, wait >= 1 && wait <= 60, "Retry-After %d s: until the oldest request leaves the minute", wait)
	require.Equal(t, http.StatusTooManyRequests, b.srv.Calls()[3].Status)
}

func TestFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestatuspage.Options{})
	require.Error(t, b.srv.Fail("timeout", 1), "unknown kinds are refused")
	require.NoError(t, b.srv.Fail(fakestatuspage.Fault429, 1))
	require.NoError(t, b.srv.Fail(fakestatuspage.Fault500, 1))
	path := "/pages/" + fakestatuspage.PageID + "/components/apicomponent"

	limited := b.send(t, "GET", path, nil, "")
	require.Equal(t, http.StatusTooManyRequests, limited.status)
	require.Equal(t, "1", limited.header.Get("Retry-After"))
	require.Equal(t, http.StatusInternalServerError, b.send(t, "GET", path, nil, "").status)
	require.Equal(t, http.StatusOK, b.send(t, "GET", path, nil, "").status, "the faults are used up")

	require.NoError(t, b.srv.Fail(fakestatuspage.Fault500, 3))
	b.srv.Clear()
	require.Equal(t, http.StatusOK, b.send(t, "GET", path, nil, "").status)
	require.Len(t, b.srv.Calls(), 4)
}

func TestComponentStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestatuspage.Options{})
	path := "/pages/" + fakestatuspage.PageID + "/components/" + fakestatuspage.ComponentIngestion
	got := b.send(t, "PATCH", path, nil, `{"component":{"status":"partial_outage"}}`)
	require.Equal(t, http.StatusOK, got.status, "body: %v", got.body)
	require.Equal(t, "partial_outage", got.body["status"])
	require.Equal(t, fakestatuspage.PartialOutage, b.srv.Components()[2].Status)

	refused := b.send(t, "PATCH", path, nil, `{"component":{"status":"down"}}`)
	require.Equal(t, http.StatusBadRequest, refused.status, "refused by the API description")
}
