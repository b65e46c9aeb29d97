package sentry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/integrations/sentry"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
	"github.com/opsbot-dev/opsbot/sandbox/fakemonitoring"
)

type testBundle struct {
	sandbox *fakemonitoring.Server
	clock   *clock.Offset
	client  *sentry.Client
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	c := clock.NewOffset()
	sandbox, err := fakemonitoring.New(fakemonitoring.Options{Clock: c})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sandbox.Close()) })
	return &testBundle{sandbox: sandbox, clock: c, client: newClient(t, sandbox.SentryURL(), fakemonitoring.SentryToken)}
}

func newClient(t *testing.T, baseURL, token string) *sentry.Client {
	t.Helper()
	client, err := sentry.New(baseURL, token, nil)
	require.NoError(t, err)
	return client
}

func TestErrorCountComparesTheWindowsAroundASpike(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.sandbox.Fault(fakeaws.FaultSentrySpike))
	// Sentry takes times to the second: the window after starts on the second after the spike.
	spiked := b.clock.Now().Truncate(time.Second).Add(time.Second)
	b.clock.Advance(20 * time.Minute)

	cases := []struct {
		name string
		from time.Time
		want int
	}{
		{"the ten minutes before", spiked.Add(-11 * time.Minute), 10 * fakemonitoring.SentryErrorsPerMinute},
		{"the ten minutes after", spiked, 10 * fakemonitoring.SentrySpikeErrorsPerMinute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			count, err := b.client.ErrorCount(t.Context(), fakemonitoring.SentryOrg, fakemonitoring.SentryProjectID,
				c.from, c.from.Add(10*time.Minute))
			require.NoError(t, err)
			require.Equal(t, c.want, count)
		})
	}
}

func TestErrorsSayWhetherTryingAgainMayHelp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	answering := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"detail":"try later"}`))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	cases := []struct {
		name          string
		client        *sentry.Client
		ctx           context.Context
		org           string
		project       int64
		wantStatus    int
		wantTransient bool
	}{
		{"a bad token", newClient(t, b.sandbox.SentryURL(), "sntryu_wrong"), t.Context(), fakemonitoring.SentryOrg, fakemonitoring.SentryProjectID, 401, false},
		{"an unknown organisation", b.client, t.Context(), "globex", fakemonitoring.SentryProjectID, 404, false},
		{"a project of another organisation", b.client, t.Context(), fakemonitoring.SentryOrg, 42, 403, false},
		{"Sentry failing", newClient(t, answering(http.StatusBadGateway), "t"), t.Context(), "o", 1, 502, true},
		{"Sentry rate limiting", newClient(t, answering(http.StatusTooManyRequests), "t"), t.Context(), "o", 1, 429, true},
		{"Sentry unreachable", newClient(t, gone.URL, "t"), t.Context(), "o", 1, 0, true},
		{"the caller cancelling", b.client, cancelled, fakemonitoring.SentryOrg, fakemonitoring.SentryProjectID, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.client.ErrorCount(c.ctx, c.org, c.project, time.Now().Add(-time.Hour), time.Now())
			var sentryErr *sentry.Error
			require.ErrorAs(t, err, &sentryErr)
			require.Equal(t, c.wantStatus, sentryErr.StatusCode, "error: %v", err)
			require.Equal(t, c.wantTransient, sentryErr.Transient(), "error: %v", err)
		})
	}
}
