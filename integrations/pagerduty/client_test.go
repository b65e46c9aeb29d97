package pagerduty_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/pagerduty"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakepagerduty"
)

type testBundle struct {
	fake   *fakepagerduty.Server
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

// setup starts a sandbox PagerDuty that checks every request against PagerDuty's API
// descriptions, and a client for it acting as the opsbot user.
func setup(t *testing.T) testBundle {
	t.Helper()
	dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	if err != nil {
		t.Skipf("skipping: %v (set OPSBOT_SPECS_DIR to the folder of vendor API descriptions)", err)
	}
	c := &stoppedClock{now: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
	fake, err := fakepagerduty.New(fakepagerduty.Options{Clock: c, SpecsDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fake.Close()) })
	return testBundle{fake: fake, clock: c, client: newClient(t, fake, fakepagerduty.Token, "opsbot@example.com")}
}

func newClient(t *testing.T, fake *fakepagerduty.Server, token, from string) *pagerduty.Client {
	t.Helper()
	client, err := pagerduty.New(pagerduty.Config{
		APIURL: fake.APIURL(), EventsURL: fake.EventsURL(), Token: token, From: from,
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	})
	require.NoError(t, err)
	return client
}

func checkoutErrors(key string) pagerduty.Trigger {
	return pagerduty.Trigger{
		ServiceID: fakepagerduty.ServiceID, Title: "Checkout errors", Urgency: "high", IncidentKey: key,
		Body: "Declared sev1 by carol in #inc-20260302-checkout-errors",
	}
}

// callsTo counts the requests the fake answered for method and path.
func callsTo(fake *fakepagerduty.Server, method, path string) int {
	n := 0
	for _, c := range fake.Calls() {
		if c.Method == method && c.Path == path {
			n++
		}
	}
	return n
}

func TestTriggerIncidentPagesOnceAKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	first, err := b.client.TriggerIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)
	require.Equal(t, pagerduty.StatusTriggered, first.Status)
	require.Equal(t, "inc-1", first.Key)
	require.Equal(t, "high", first.Urgency)
	require.Equal(t, b.clock.Now(), first.CreatedAt)
	require.NotEmpty(t, first.URL)

	again, err := b.client.TriggerIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID, "triggering again finds the open incident")

	incidents := b.fake.Incidents()
	require.Len(t, incidents, 1)
	require.Len(t, incidents[0].Notes, 1, "the body is noted once")
	require.Equal(t, "Declared sev1 by carol in #inc-20260302-checkout-errors", incidents[0].Notes[0].Content)
	require.Equal(t, 1, callsTo(b.fake, "POST", "/incidents"))

	_, err = b.client.Resolve(ctx, first.ID)
	require.NoError(t, err)
	reopened, err := b.client.TriggerIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)
	require.NotEqual(t, first.ID, reopened.ID, "a resolved incident's key opens a new one")
}

func TestTriggerIncidentAfterLosingTheAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Someone (another replica, or our own request whose answer was lost) opens the incident
	// between our look-up and our create: PagerDuty refuses the create, and the look-up after
	// it finds the incident.
	_, err := b.client.TriggerEvent(ctx, pagerduty.Event{
		RoutingKey: fakepagerduty.RoutingKey, DedupKey: "inc-1", Summary: "Checkout errors", Severity: "critical", Source: "opsbot"})
	require.NoError(t, err)
	existing := b.fake.Incidents()[0]

	got, err := b.client.TriggerIncident(ctx, pagerduty.Trigger{
		ServiceID: fakepagerduty.ServiceID, Title: "Checkout errors", IncidentKey: "inc-1"})
	require.NoError(t, err)
	require.Equal(t, existing.ID, got.ID)
	require.Len(t, b.fake.Incidents(), 1)
}

func TestTriggerEventAndIncidentByKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	event := pagerduty.Event{RoutingKey: fakepagerduty.RoutingKey, DedupKey: "inc-7", Summary: "Checkout errors",
		Severity: "critical", Source: "opsbot"}
	for range 2 {
		key, err := b.client.TriggerEvent(ctx, event)
		require.NoError(t, err)
		require.Equal(t, "inc-7", key)
	}
	require.Len(t, b.fake.Incidents(), 1)

	inc, err := b.client.IncidentByKey(ctx, fakepagerduty.ServiceID, "inc-7")
	require.NoError(t, err)
	require.Equal(t, b.fake.Incidents()[0].ID, inc.ID)
	require.Equal(t, "Checkout errors", inc.Title)

	_, err = b.client.IncidentByKey(ctx, fakepagerduty.ServiceID, "inc-8")
	require.ErrorIs(t, err, pagerduty.ErrNotFound)
}

func TestIncidentTimesForTheDurations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	triggered, err := b.client.TriggerIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)

	b.clock.Advance(5 * time.Minute) // carol acknowledged after DefaultAckAfter
	acked, err := b.client.Incident(ctx, triggered.ID)
	require.NoError(t, err)
	require.Equal(t, pagerduty.StatusAcknowledged, acked.Status)
	require.Equal(t, triggered.CreatedAt.Add(fakepagerduty.DefaultAckAfter), acked.AcknowledgedAt)
	require.True(t, acked.ResolvedAt.IsZero())

	b.clock.Advance(40 * time.Minute)
	resolved, err := b.client.Resolve(ctx, triggered.ID)
	require.NoError(t, err)
	require.Equal(t, pagerduty.StatusResolved, resolved.Status)
	require.Equal(t, b.clock.Now(), resolved.ResolvedAt)

	final, err := b.client.Incident(ctx, triggered.ID)
	require.NoError(t, err)
	require.Equal(t, acked.AcknowledgedAt, final.AcknowledgedAt, "the acknowledgement is still known after resolving")
	require.Equal(t, 45*time.Minute, final.ResolvedAt.Sub(final.CreatedAt))
}

func TestAcknowledgeAndResolveAreIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	inc, err := b.client.TriggerIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)

	steps := []struct {
		name string
		do   func(context.Context, string) (pagerduty.Incident, error)
		want string
	}{
		{"acknowledge", b.client.Acknowledge, pagerduty.StatusAcknowledged},
		{"acknowledge again", b.client.Acknowledge, pagerduty.StatusAcknowledged},
		{"resolve", b.client.Resolve, pagerduty.StatusResolved},
		{"resolve again", b.client.Resolve, pagerduty.StatusResolved},
		{"acknowledging a resolved incident leaves it resolved", b.client.Acknowledge, pagerduty.StatusResolved},
	}
	for _, step := range steps {
		got, err := step.do(ctx, inc.ID)
		require.NoError(t, err, step.name)
		require.Equal(t, step.want, got.Status, step.name)
	}
	require.Equal(t, 2, callsTo(b.fake, "PUT", "/incidents"), "one change each")
	var statuses []string
	for _, c := range b.fake.Incidents()[0].Log {
		statuses = append(statuses, c.Status)
		require.Equal(t, fakepagerduty.Opsbot, c.By, "made as the From user")
	}
	require.Equal(t, []string{"triggered", "acknowledged", "resolved"}, statuses)
}

func TestOnCallAndUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	people, err := b.client.OnCall(ctx, fakepagerduty.EscalationPolicyID)
	require.NoError(t, err)
	require.Equal(t, []pagerduty.Person{{ID: fakepagerduty.Carol, Name: "Carol", Email: "carol@example.com"}}, people)

	dave, err := b.client.UserByEmail(ctx, "DAVE@example.com")
	require.NoError(t, err)
	require.Equal(t, pagerduty.Person{ID: fakepagerduty.Dave, Name: "Dave", Email: "dave@example.com"}, dave)
	_, err = b.client.UserByEmail(ctx, "example.com")
	require.ErrorIs(t, err, pagerduty.ErrNotFound, "a partial match is not the user")
}

func TestAddResponderAndStatusUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	inc, err := b.client.TriggerIncident(ctx, checkoutErrors("inc-1"))
	require.NoError(t, err)

	for range 2 {
		require.NoError(t, b.client.AddResponder(ctx, inc.ID, pagerduty.UserTarget(fakepagerduty.Dave), "Join #inc-checkout"))
	}
	require.NoError(t, b.client.AddResponder(ctx, inc.ID, pagerduty.PolicyTarget(fakepagerduty.EscalationPolicyID), "Join #inc-checkout"))
	require.NoError(t, b.client.PostStatusUpdate(ctx, inc.ID, "Identified: bad deploy v1.1.0"))

	got := b.fake.Incidents()[0]
	var responders []string
	for _, r := range got.Responders {
		responders = append(responders, r.UserID)
		require.Equal(t, fakepagerduty.Opsbot, r.RequestedBy)
	}
	require.Equal(t, []string{fakepagerduty.Dave, fakepagerduty.Carol}, responders)
	require.Equal(t, 2, callsTo(b.fake, "POST", "/incidents/"+inc.ID+"/responder_requests"), "dave is asked once")
	require.Equal(t, []fakepagerduty.StatusUpdate{{Message: "Identified: bad deploy v1.1.0", Sender: fakepagerduty.Opsbot, At: b.clock.Now()}},
		got.StatusUpdates)

	err = b.client.AddResponder(ctx, inc.ID, pagerduty.UserTarget("PNOBODY"), "Join")
	var pdErr *pagerduty.Error
	require.ErrorAs(t, err, &pdErr)
	require.Equal(t, http.StatusBadRequest, pdErr.Status)
	require.Contains(t, pdErr.Message, "PNOBODY")
}

func TestErrorsCarryARetryVerdict(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		token, from    string
		fault          string
		do             func(context.Context, *pagerduty.Client) error
		wantStatus     int
		wantRetryable  bool
		wantRetryAfter time.Duration
		wantMessage    string
		wantNotFound   bool
	}{
		{name: "rate limited", fault: fakepagerduty.Fault429,
			do: func(ctx context.Context, c *pagerduty.Client) error {
				_, err := c.TriggerIncident(ctx, checkoutErrors("inc-1"))
				return err
			},
			wantStatus: 429, wantRetryable: true, wantRetryAfter: time.Second, wantMessage: "Rate Limit Exceeded"},
		{name: "PagerDuty failing", fault: fakepagerduty.Fault500,
			do: func(ctx context.Context, c *pagerduty.Client) error {
				_, err := c.OnCall(ctx, fakepagerduty.EscalationPolicyID)
				return err
			},
			wantStatus: 500, wantRetryable: true},
		{name: "Events API failing", fault: fakepagerduty.Fault500,
			do: func(ctx context.Context, c *pagerduty.Client) error {
				_, err := c.TriggerEvent(ctx, pagerduty.Event{RoutingKey: fakepagerduty.RoutingKey, DedupKey: "k",
					Summary: "s", Severity: "critical", Source: "opsbot"})
				return err
			},
			wantStatus: 500, wantRetryable: true},
		{name: "wrong token", token: "guess",
			do: func(ctx context.Context, c *pagerduty.Client) error {
				_, err := c.OnCall(ctx, fakepagerduty.EscalationPolicyID)
				return err
			},
			wantStatus: 401, wantMessage: "Authentication failed"},
		{name: "From is not a PagerDuty user", from: "mallory@example.com",
			do: func(ctx context.Context, c *pagerduty.Client) error {
				_, err := c.TriggerIncident(ctx, checkoutErrors("inc-1"))
				return err
			},
			wantStatus: 400, wantMessage: "mallory@example.com"},
		{name: "urgency PagerDuty does not know, refused by its API description",
			do: func(ctx context.Context, c *pagerduty.Client) error {
				trigger := checkoutErrors("inc-1")
				trigger.Urgency = "urgent"
				_, err := c.TriggerIncident(ctx, trigger)
				return err
			},
			wantStatus: 400, wantMessage: "urgency"},
		{name: "event severity PagerDuty does not know",
			do: func(ctx context.Context, c *pagerduty.Client) error {
				_, err := c.TriggerEvent(ctx, pagerduty.Event{RoutingKey: fakepagerduty.RoutingKey, DedupKey: "k",
					Summary: "s", Severity: "sev1", Source: "opsbot"})
				return err
			},
			wantStatus: 400, wantMessage: "severity"},
		{name: "unknown incident",
			do: func(ctx context.Context, c *pagerduty.Client) error {
				_, err := c.Resolve(ctx, "QNOPE")
				return err
			},
			wantStatus: 404, wantMessage: "QNOPE", wantNotFound: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			token, from := fakepagerduty.Token, "opsbot@example.com"
			if c.token != "" {
				token = c.token
			}
			if c.from != "" {
				from = c.from
			}
			if c.fault != "" {
				require.NoError(t, b.fake.Fail(c.fault, 1))
			}
			err := c.do(context.Background(), newClient(t, b.fake, token, from))

			var pdErr *pagerduty.Error
			require.ErrorAs(t, err, &pdErr)
			require.Equal(t, c.wantStatus, pdErr.Status, "error: %v", err)
			require.Equal(t, c.wantRetryable, pdErr.Retryable(), "error: %v", err)
			require.Equal(t, c.wantRetryAfter, pdErr.RetryAfter())
			require.Contains(t, pdErr.Error(), c.wantMessage)
			require.Equal(t, c.wantNotFound, errors.Is(err, pagerduty.ErrNotFound))
			require.Empty(t, b.fake.Incidents(), "nothing was paged")
		})
	}
}

func TestNoAnswerIsRetryableAndCancellationIsNot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	unreachable := newClient(t, b.fake, fakepagerduty.Token, "opsbot@example.com")
	require.NoError(t, b.fake.Close())

	_, err := unreachable.OnCall(context.Background(), fakepagerduty.EscalationPolicyID)
	var pdErr *pagerduty.Error
	require.ErrorAs(t, err, &pdErr)
	require.Zero(t, pdErr.Status)
	require.True(t, pdErr.Retryable())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = unreachable.OnCall(ctx, fakepagerduty.EscalationPolicyID)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, errors.As(err, &pdErr), "giving up is the caller's doing, not PagerDuty's")
}

func TestNewRequiresTheAccount(t *testing.T) {
	t.Parallel()
	complete := pagerduty.Config{Token: "t", From: "opsbot@example.com", HTTPClient: &http.Client{}}
	cases := []struct {
		name   string
		change func(*pagerduty.Config)
	}{
		{"token", func(c *pagerduty.Config) { c.Token = "" }},
		{"From", func(c *pagerduty.Config) { c.From = "" }},
		{"HTTP client", func(c *pagerduty.Config) { c.HTTPClient = nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := complete
			c.change(&cfg)
			_, err := pagerduty.New(cfg)
			require.Error(t, err)
		})
	}
	_, err := pagerduty.New(complete)
	require.NoError(t, err)
}
