package fakemonitoring_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
	"github.com/opsbot-dev/opsbot/sandbox/fakemonitoring"
)

func setup(t *testing.T, faults *fakeaws.Faults) *fakemonitoring.Server {
	t.Helper()
	srv, err := fakemonitoring.New(fakemonitoring.Options{Faults: faults})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

// send makes a request and returns the status and body of the answer.
func send(t *testing.T, method, target string, header http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body))
	require.NoError(t, err)
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(answer)
}

func TestHealthURLFailsWhileTheSharedHealthFaultIsOn(t *testing.T) {
	t.Parallel()
	// The console shares one timeline between fakeaws and fakemonitoring.
	faults := fakeaws.NewFaults(clock.Real{})
	monitoring := setup(t, faults)

	status, body := send(t, http.MethodGet, monitoring.HealthURL(), nil, "")
	require.Equal(t, http.StatusOK, status, body)

	require.NoError(t, faults.Set(fakeaws.FaultHealthUnhealthy))
	status, body = send(t, http.MethodGet, monitoring.HealthURL(), nil, "")
	require.Equal(t, http.StatusServiceUnavailable, status, body)

	monitoring.Clear()
	status, body = send(t, http.MethodGet, monitoring.HealthURL(), nil, "")
	require.Equal(t, http.StatusOK, status, body)
}

func TestRequestsTheSandboxDoesNotModelAreRefusedSayingSo(t *testing.T) {
	t.Parallel()
	srv := setup(t, nil)
	sentryHeader := http.Header{"Authorization": {"Bearer " + fakemonitoring.SentryToken}}
	sentryQuery := func(change func(url.Values)) string {
		q := url.Values{
			"dataset": {"errors"}, "field": {"count()"}, "project": {"4505321021"},
			"start": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, "end": {time.Now().UTC().Format(time.RFC3339)},
		}
		change(q)
		return srv.SentryURL() + "/api/0/organizations/" + fakemonitoring.SentryOrg + "/events/?" + q.Encode()
	}
	nerdGraph := func(query, nrql string) string {
		body, err := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"accountId": fakemonitoring.NewRelicAccountID, "nrql": nrql}})
		require.NoError(t, err)
		return string(body)
	}
	nerdGraphHeader := http.Header{"Api-Key": {fakemonitoring.NewRelicAPIKey}, "Content-Type": {"application/json"}}
	const document = `query($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { nrql(query: $nrql) { results } } } }`
	cases := []struct {
		name       string
		method     string
		target     string
		header     http.Header
		body       string
		wantStatus int
		wantPart   string
	}{
		{"Sentry without a token", http.MethodGet, sentryQuery(func(url.Values) {}), nil, "", 401, "credentials were not provided"},
		{"Sentry on another dataset", http.MethodGet, sentryQuery(func(q url.Values) { q.Set("dataset", "transactions") }), sentryHeader, "", 400, "errors dataset only"},
		{"Sentry with other fields", http.MethodGet, sentryQuery(func(q url.Values) { q.Add("field", "title") }), sentryHeader, "", 400, "field=count() only"},
		{"Sentry with a relative period", http.MethodGet, sentryQuery(func(q url.Values) { q.Del("start"); q.Set("statsPeriod", "1h") }), sentryHeader, "", 400, "start and end"},
		{"NerdGraph with another document", http.MethodPost, srv.NewRelicURL() + "/graphql", nerdGraphHeader,
			nerdGraph(`{ actor { user { name } } }`, ""), 200, "answers only query"},
		{"NerdGraph with another NRQL query", http.MethodPost, srv.NewRelicURL() + "/graphql", nerdGraphHeader,
			nerdGraph(document, "SELECT count(*) FROM Transaction SINCE 1 hour ago"), 200, "NRQL Syntax Error"},
		{"a vendor path outside its prefix", http.MethodGet, strings.Replace(sentryQuery(func(url.Values) {}), "/sentry", "", 1), sentryHeader, "", 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			status, body := send(t, c.method, c.target, c.header, c.body)
			require.Equal(t, c.wantStatus, status, body)
			require.Contains(t, body, c.wantPart)
		})
	}
}
