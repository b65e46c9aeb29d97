package newrelic_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/integrations/newrelic"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
	"github.com/opsbot-dev/opsbot/sandbox/fakemonitoring"
)

type testBundle struct {
	sandbox *fakemonitoring.Server
	clock   *clock.Offset
	client  *newrelic.Client
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	c := clock.NewOffset()
	sandbox, err := fakemonitoring.New(fakemonitoring.Options{Clock: c})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sandbox.Close()) })
	return &testBundle{sandbox: sandbox, clock: c, client: newClient(t, sandbox.NewRelicURL(), fakemonitoring.NewRelicAPIKey)}
}

func newClient(t *testing.T, baseURL, apiKey string) *newrelic.Client {
	t.Helper()
	client, err := newrelic.New(baseURL, apiKey, nil)
	require.NoError(t, err)
	return client
}

func TestResponseTimeP95ComparesTheWindowsAroundALatencyFault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.sandbox.Fault(fakeaws.FaultLatencyHigh))
	deployed := b.clock.Now()
	b.clock.Advance(20 * time.Minute)

	cases := []struct {
		name      string
		app       string
		from      time.Time
		want      time.Duration
		wantFound bool
	}{
		{"the ten minutes before", fakemonitoring.NewRelicApp, deployed.Add(-10 * time.Minute), fakemonitoring.NewRelicResponseTime, true},
		{"the ten minutes after", fakemonitoring.NewRelicApp, deployed, fakemonitoring.NewRelicResponseTimeHigh, true},
		{"an application without transactions", "analytics-o'staging", deployed, 0, false},
		{"a window still to come", fakemonitoring.NewRelicApp, deployed.Add(time.Hour), 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p95, found, err := b.client.ResponseTimeP95(t.Context(), fakemonitoring.NewRelicAccountID, c.app, c.from, c.from.Add(10*time.Minute))
			require.NoError(t, err)
			require.Equal(t, c.wantFound, found)
			require.Equal(t, c.want, p95)
		})
	}
}

func TestErrorsSayWhetherTryingAgainMayHelp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	answering := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	cases := []struct {
		name          string
		client        *newrelic.Client
		account       int
		wantStatus    int
		wantTransient bool
	}{
		{"a bad key", newClient(t, b.sandbox.NewRelicURL(), "NRAK-WRONG"), fakemonitoring.NewRelicAccountID, 401, false},
		{"an inaccessible account", b.client, 999, 200, false},
		{"a query that timed out", newClient(t, answering(200, `{"data":null,"errors":[{"message":"NRDB query timed out","extensions":{"errorClass":"TIMEOUT"}}]}`), "k"),
			1, 200, true},
		{"NerdGraph failing", newClient(t, answering(503, `upstream unavailable`), "k"), 1, 503, true},
		{"NerdGraph rate limiting", newClient(t, answering(429, `{"errors":[{"message":"slow down"}]}`), "k"), 1, 429, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := c.client.ResponseTimeP95(t.Context(), c.account, fakemonitoring.NewRelicApp, time.Now().Add(-time.Hour), time.Now())
			var nrErr *newrelic.Error
			require.ErrorAs(t, err, &nrErr)
			require.Equal(t, c.wantStatus, nrErr.StatusCode, "error: %v", err)
			require.Equal(t, c.wantTransient, nrErr.Transient(), "error: %v", err)
			require.NotEmpty(t, nrErr.Messages)
		})
	}
}
