package deploy

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/integrations/sentry"
	"github.com/opsbot-dev/opsbot/sandbox/fakemonitoring"
)

// Sentry takes whole seconds. The window since the deploy and the one before it must be cut
// to the second together: cut each on its own, one was a second longer than the other, and a
// steady error rate read as an increase (the chaos suite once failed a deploy on "6 vs 4").
func TestSentryComparesWindowsOfTheSameWholeSeconds(t *testing.T) {
	t.Parallel()
	monitoring, err := fakemonitoring.New(fakemonitoring.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, monitoring.Close()) })
	client, err := sentry.New(monitoring.SentryURL(), fakemonitoring.SentryToken, &http.Client{Timeout: 10 * time.Second})
	require.NoError(t, err)
	check := (&Service{opts: Options{Sentry: client}}).sentryCheck(&config.SentryCheck{
		Org: fakemonitoring.SentryOrg, ProjectID: fakemonitoring.SentryProjectID, MaxIncrease: 25,
	})

	minute := time.Now().Add(-time.Hour).Truncate(time.Minute)
	for _, w := range []struct{ since, now time.Duration }{
		{900 * time.Millisecond, 2*time.Minute + 1200*time.Millisecond},
		{200 * time.Millisecond, 2*time.Minute + 900*time.Millisecond},
		{0, 2 * time.Minute},
		{500 * time.Millisecond, time.Minute + 30*time.Second},
	} {
		r, err := check.read(t.Context(), window{since: minute.Add(w.since), now: minute.Add(w.now)})
		require.NoError(t, err)
		require.False(t, r.failed, "since +%v, now +%v: %s", w.since, w.now, r.why)
		require.Contains(t, r.value, "(+0 %)", "since +%v, now +%v", w.since, w.now)
	}
}
