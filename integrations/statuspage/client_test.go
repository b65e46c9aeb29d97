package statuspage_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/statuspage"
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
	fake   *fakestatuspage.Server
	clock  *stoppedClock
	client *statuspage.Client
}

// setup starts a sandbox Statuspage that checks every request against Statuspage's API
// description, and a client for its page.
func setup(t *testing.T, opts fakestatuspage.Options) testBundle {
	t.Helper()
	dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	if err != nil {
		t.Skipf("skipping: %v (set OPSBOT_SPECS_DIR to the folder of vendor API descriptions)", err)
	}
	c := &stoppedClock{now: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
	opts.Clock, opts.SpecsDir = c, dir
	fake, err := fakestatuspage.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fake.Close()) })
	return testBundle{fake: fake, clock: c, client: newClient(t, fake, fakestatuspage.APIKey)}
}

func newClient(t *testing.T, fake *fakestatuspage.Server, key string) *statuspage.Client {
	t.Helper()
	client, err := statuspage.New(statuspage.Config{
		BaseURL: fake.APIURL(), APIKey: key, PageID: fakestatuspage.PageID, HTTPClient: &http.Client{Timeout: 10 * time.Second},
	})
	require.NoError(t, err)
	return client
}

func checkoutErrors(key string) statuspage.NewIncident {
	return statuspage.NewIncident{
		Key:    key,
		Name:   "Checkout errors",
		Impact: statuspage.ImpactMajor,
		Body:   "We are investigating errors when paying for orders.",
		Components: map[string]statuspage.ComponentStatus{
			fakestatuspage.ComponentAPI:       statuspage.PartialOutage,
			fakestatuspage.ComponentDashboard: statuspage.DegradedPerformance,
		},
	}
}

// callsTo counts the requests the fake answered for method and path below the page.
func callsTo(fake *fakestatuspage.Server, method, path string) int {
	n := 0
	for _, c := range fake.Calls() {
		if c.Method == method && c.Path == "/v1/pages/"+fakestatuspage.PageID+path {
			n++
		}
	}
	return n
}

func TestCreateIncidentPublishesOnceAKey(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestatuspage.Options{})
	ctx := context.Background()

	first, err := b.client.CreateIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)
	require.Equal(t, statuspage.Incident{
		ID: first.ID, Key: "inc-1", Name: "Checkout errors", Status: statuspage.Investigating, Impact: statuspage.ImpactMajor,
		URL: first.URL,
		Components: map[string]statuspage.ComponentStatus{
			fakestatuspage.ComponentAPI: statuspage.PartialOutage, fakestatuspage.ComponentDashboard: statuspage.DegradedPerformance,
		},
		Updates:   []statuspage.Update{{Status: statuspage.Investigating, Body: "We are investigating errors when paying for orders.", At: b.clock.Now()}},
		CreatedAt: b.clock.Now(),
	}, first)
	require.NotEmpty(t, first.URL)

	again, err := b.client.CreateIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID, "creating again finds the unresolved incident")
	require.Len(t, b.fake.Incidents(), 1)
	require.Equal(t, 1, callsTo(b.fake, "POST", "/incidents"))

	other, err := b.client.CreateIncident(ctx, checkoutErrors("inc-2"))
	require.NoError(t, err)
	require.NotEqual(t, first.ID, other.ID, "another key is another incident")

	_, err = b.client.ResolveIncident(ctx, first.ID, "Resolved.")
	require.NoError(t, err)
	reopened, err := b.client.CreateIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)
	require.NotEqual(t, first.ID, reopened.ID, "a resolved incident's key publishes a new one")
}

func TestUpdateAndResolvePostEachUpdateOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestatuspage.Options{})
	ctx := context.Background()
	inc, err := b.client.CreateIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)
	start := b.clock.Now()

	b.clock.Advance(10 * time.Minute)
	identified := statuspage.Change{Status: statuspage.Identified, Body: "A bad deploy; we are rolling it back.",
		Components: map[string]statuspage.ComponentStatus{fakestatuspage.ComponentAPI: statuspage.MajorOutage}}
	for range 2 {
		got, err := b.client.UpdateIncident(ctx, inc.ID, identified)
		require.NoError(t, err)
		require.Equal(t, statuspage.Identified, got.Status)
		require.Equal(t, statuspage.MajorOutage, got.Components[fakestatuspage.ComponentAPI])
	}

	b.clock.Advance(20 * time.Minute)
	for range 2 {
		got, err := b.client.ResolveIncident(ctx, inc.ID, "Checkout works again.")
		require.NoError(t, err)
		require.Equal(t, statuspage.Resolved, got.Status)
		require.Equal(t, b.clock.Now(), got.ResolvedAt)
		require.Equal(t, map[string]statuspage.ComponentStatus{
			fakestatuspage.ComponentAPI: statuspage.Operational, fakestatuspage.ComponentDashboard: statuspage.Operational,
		}, got.Components)
	}
	require.Equal(t, 2, callsTo(b.fake, "PATCH", "/incidents/"+inc.ID), "a repeated change is not sent again")

	var history []fakestatuspage.Update
	for _, u := range b.fake.Incidents()[0].Updates {
		u.ID, u.Components = "", nil
		history = append(history, u)
	}
	require.Equal(t, []fakestatuspage.Update{
		{Status: "investigating", Body: "We are investigating errors when paying for orders.", At: start, Notified: true},
		{Status: "identified", Body: "A bad deploy; we are rolling it back.", At: start.Add(10 * time.Minute), Notified: true},
		{Status: "resolved", Body: "Checkout works again.", At: start.Add(30 * time.Minute), Notified: true},
	}, history, "the exact public text, once each")
	for _, c := range b.fake.Components() {
		require.Equal(t, fakestatuspage.Operational, c.Status, c.Name)
	}
}

func TestResolveFinishesAHalfDoneResolution(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestatuspage.Options{})
	ctx := context.Background()
	inc, err := b.client.CreateIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)
	// Someone resolved it by hand and left the components as they were.
	_, err = b.client.UpdateIncident(ctx, inc.ID, statuspage.Change{Status: statuspage.Resolved})
	require.NoError(t, err)

	got, err := b.client.ResolveIncident(ctx, inc.ID, "")
	require.NoError(t, err)
	require.Equal(t, statuspage.Operational, got.Components[fakestatuspage.ComponentAPI])
	require.Equal(t, statuspage.Operational, got.Components[fakestatuspage.ComponentDashboard])
}

func TestComponents(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestatuspage.Options{})
	components, err := b.client.Components(context.Background())
	require.NoError(t, err)
	require.Equal(t, []statuspage.Component{
		{ID: fakestatuspage.ComponentAPI, Name: "API", Status: statuspage.Operational},
		{ID: fakestatuspage.ComponentDashboard, Name: "Dashboard", Status: statuspage.Operational},
		{ID: fakestatuspage.ComponentIngestion, Name: "Ingestion", Status: statuspage.Operational},
	}, components)
}

func TestErrorsCarryARetryVerdict(t *testing.T) {
	t.Parallel()
	create := func(ctx context.Context, c *statuspage.Client) error {
		_, err := c.CreateIncident(ctx, checkoutErrors("inc-1"))
		return err
	}
	cases := []struct {
		name           string
		opts           fakestatuspage.Options
		key            string
		fault          string
		do             func(context.Context, *statuspage.Client) error
		wantStatus     int
		wantRetryable  bool
		wantRetryAfter time.Duration // exact; -1 for "some wait"
		wantMessage    string
	}{
		{name: "forced rate limit", fault: fakestatuspage.Fault429, do: create,
			wantStatus: 429, wantRetryable: true, wantRetryAfter: time.Second, wantMessage: "Rate limit exceeded"},
		{name: "over one request a second", opts: fakestatuspage.Options{RequestsPerMinute: 1}, do: create,
			wantStatus: 429, wantRetryable: true, wantRetryAfter: -1, wantMessage: "Rate limit exceeded"},
		{name: "Statuspage failing", fault: fakestatuspage.Fault500, do: create, wantStatus: 500, wantRetryable: true},
		{name: "wrong key", key: "guess", do: create, wantStatus: 401, wantMessage: "Could not authenticate"},
		{name: "component of another page",
			do: func(ctx context.Context, c *statuspage.Client) error {
				incident := checkoutErrors("inc-1")
				incident.Components = map[string]statuspage.ComponentStatus{"elsewhere": statuspage.MajorOutage}
				_, err := c.CreateIncident(ctx, incident)
				return err
			},
			wantStatus: 422, wantMessage: "Component elsewhere does not belong"},
		{name: "status Statuspage does not know, refused by its API description",
			do: func(ctx context.Context, c *statuspage.Client) error {
				incident := checkoutErrors("inc-1")
				incident.Status = "on fire"
				_, err := c.CreateIncident(ctx, incident)
				return err
			},
			wantStatus: 400, wantMessage: "status"},
		{name: "unknown incident",
			do: func(ctx context.Context, c *statuspage.Client) error {
				_, err := c.ResolveIncident(ctx, "nope", "Resolved.")
				return err
			},
			wantStatus: 404, wantMessage: "could not be found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, c.opts)
			key := fakestatuspage.APIKey
			if c.key != "" {
				key = c.key
			}
			if c.fault != "" {
				require.NoError(t, b.fake.Fail(c.fault, 1))
			}
			err := c.do(context.Background(), newClient(t, b.fake, key))

			var spErr *statuspage.Error
			require.ErrorAs(t, err, &spErr)
			require.Equal(t, c.wantStatus, spErr.Status, "error: %v", err)
			require.Equal(t, c.wantRetryable, spErr.Retryable(), "error: %v", err)
			if c.wantRetryAfter < 0 {
				require.Positive(t, spErr.RetryAfter())
			} else {
				require.Equal(t, c.wantRetryAfter, spErr.RetryAfter())
			}
			require.Contains(t, spErr.Error(), c.wantMessage)
			require.Empty(t, b.fake.Incidents(), "nothing was published")
		})
	}
}

func TestNoAnswerIsRetryableAndCancellationIsNot(t *testing.T) {
	t.Parallel()
	b := setup(t, fakestatuspage.Options{})
	require.NoError(t, b.fake.Close())

	_, err := b.client.Components(context.Background())
	var spErr *statuspage.Error
	require.ErrorAs(t, err, &spErr)
	require.Zero(t, spErr.Status)
	require.True(t, spErr.Retryable())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.client.Components(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, errors.As(err, &spErr), "giving up is the caller's doing, not Statuspage's")
}

func TestNewRequiresThePage(t *testing.T) {
	t.Parallel()
	complete := statuspage.Config{APIKey: "k", PageID: "p", HTTPClient: &http.Client{}}
	cases := []struct {
		name   string
		change func(*statuspage.Config)
	}{
		{"API key", func(c *statuspage.Config) { c.APIKey = "" }},
		{"page", func(c *statuspage.Config) { c.PageID = "" }},
		{"HTTP client", func(c *statuspage.Config) { c.HTTPClient = nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := complete
			c.change(&cfg)
			_, err := statuspage.New(cfg)
			require.Error(t, err)
		})
	}
	_, err := statuspage.New(complete)
	require.NoError(t, err)
}
