package pingdom_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/pingdom"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
	"github.com/opsbot-dev/opsbot/sandbox/fakemonitoring"
)

func newClient(t *testing.T, baseURL, token string) *pingdom.Client {
	t.Helper()
	client, err := pingdom.New(baseURL, token, nil)
	require.NoError(t, err)
	return client
}

func setup(t *testing.T) (*fakemonitoring.Server, *pingdom.Client) {
	t.Helper()
	sandbox, err := fakemonitoring.New(fakemonitoring.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sandbox.Close()) })
	return sandbox, newClient(t, sandbox.PingdomURL(), fakemonitoring.PingdomToken)
}

func TestCheckStatusFollowsTheApplicationsHealth(t *testing.T) {
	t.Parallel()
	sandbox, client := setup(t)
	want := pingdom.Check{ID: fakemonitoring.PingdomCheckID, Name: fakemonitoring.PingdomCheck, Status: pingdom.StatusUp}

	check, err := client.CheckStatus(t.Context(), fakemonitoring.PingdomCheckID)
	require.NoError(t, err)
	require.Equal(t, want, check)

	require.NoError(t, sandbox.Fault(fakeaws.FaultHealthUnhealthy))
	check, err = client.CheckStatus(t.Context(), fakemonitoring.PingdomCheckID)
	require.NoError(t, err)
	want.Status = pingdom.StatusDown
	require.Equal(t, want, check)
}

func TestErrorsSayWhetherTryingAgainMayHelp(t *testing.T) {
	t.Parallel()
	sandbox, client := setup(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"statuscode":500,"statusdesc":"Internal Server Error","errormessage":"oops"}}`))
	}))
	t.Cleanup(failing.Close)
	cases := []struct {
		name          string
		client        *pingdom.Client
		check         int
		wantStatus    int
		wantMessage   string
		wantTransient bool
	}{
		{"a bad token", newClient(t, sandbox.PingdomURL(), "wrong"), fakemonitoring.PingdomCheckID, 401, "Invalid or missing API token", false},
		{"an unknown check", client, 1, 404, "Check not found", false},
		{"Pingdom failing", newClient(t, failing.URL, "t"), 1, 500, "oops", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.client.CheckStatus(t.Context(), c.check)
			var pingdomErr *pingdom.Error
			require.ErrorAs(t, err, &pingdomErr)
			require.Equal(t, c.wantStatus, pingdomErr.StatusCode)
			require.Equal(t, c.wantMessage, pingdomErr.Message)
			require.Equal(t, c.wantTransient, pingdomErr.Transient())
		})
	}
}
