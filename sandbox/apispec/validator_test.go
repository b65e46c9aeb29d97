package apispec_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/apispec"
)

// specsDir returns the folder of API descriptions or skips the test, saying why.
func specsDir(t *testing.T) string {
	t.Helper()
	dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	if err != nil {
		t.Skipf("skipping: %v (set OPSBOT_SPECS_DIR to the folder of vendor API descriptions)", err)
	}
	return dir
}

type requestCase struct {
	name        string
	method      string
	target      string // path and query as the vendor sees it
	header      http.Header
	body        string
	wantStatus  int    // 0: the vendor accepts it
	wantMessage string // part of the error's text
}

func (c requestCase) check(t *testing.T, v *apispec.Validator) {
	t.Helper()
	r := httptest.NewRequest(c.method, c.target, nil)
	for name, values := range c.header {
		r.Header[name] = values
	}
	err := v.ValidateRequest(r, []byte(c.body))
	if c.wantStatus == 0 {
		require.NoError(t, err)
		return
	}
	var specErr *apispec.Error
	require.ErrorAs(t, err, &specErr)
	require.Equal(t, c.wantStatus, specErr.Status, "error: %v", err)
	require.Contains(t, err.Error(), c.wantMessage)
}

func checkAll(t *testing.T, v *apispec.Validator, cases []requestCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t, v)
		})
	}
}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer t"}}
}

func TestGitHub(t *testing.T) {
	t.Parallel()
	v, err := apispec.GitHub(specsDir(t))
	require.NoError(t, err)
	const sha = "0123456789abcdef0123456789abcdef01234567"

	cases := []requestCase{
		{name: "create ref", method: "POST", target: "/repos/acme/analytics/git/refs", header: jsonHeader(),
			body: `{"ref":"refs/heads/release/v1.0.0","sha":"` + sha + `"}`},
		{name: "ref with slashes, as go-github sends it", method: "GET",
			target: "/repos/acme/analytics/git/ref/heads/release/v1.0.0"},
		{name: "multi-segment ref before a literal tail", method: "GET",
			target: "/repos/acme/analytics/commits/release/v1.0.0/status"},
		{name: "already escaped ref", method: "PATCH", target: "/repos/acme/analytics/git/refs/heads%2Fmain",
			header: jsonHeader(), body: `{"sha":"` + sha + `","force":false}`},
		{name: "list with query", method: "GET", target: "/repos/acme/analytics/pulls?state=closed&per_page=100"},
		{name: "sha of the wrong type", method: "POST", target: "/repos/acme/analytics/git/refs", header: jsonHeader(),
			body: `{"ref":"refs/heads/x","sha":42}`, wantStatus: 422,
			wantMessage: `POST /repos/{owner}/{repo}/git/refs (git/create-ref): request body has an error: doesn't match schema: at /sha: value must be a string`},
		{name: "required field missing", method: "POST", target: "/repos/acme/analytics/git/refs", header: jsonHeader(),
			body: `{"ref":"refs/heads/x"}`, wantStatus: 422, wantMessage: `property "sha" is missing`},
		{name: "value outside the enum", method: "GET", target: "/repos/acme/analytics/pulls?state=merged",
			wantStatus: 422, wantMessage: `parameter "state" in query`},
		{name: "merge method unknown", method: "PUT", target: "/repos/acme/analytics/pulls/7/merge", header: jsonHeader(),
			body: `{"merge_method":"fast-forward"}`, wantStatus: 422, wantMessage: "merge_method"},
		{name: "body is not JSON", method: "POST", target: "/repos/acme/analytics/git/refs", header: jsonHeader(),
			body: `{"ref":`, wantStatus: 400, wantMessage: "git/create-ref"},
		{name: "no such operation", method: "GET", target: "/repos/acme/analytics/deploy-now",
			wantStatus: 404, wantMessage: "no operation in the API description matches GET /repos/acme/analytics/deploy-now"},
		{name: "method the path does not have", method: "DELETE", target: "/repos/acme/analytics/pulls/7/merge",
			wantStatus: 404, wantMessage: "DELETE"},
	}
	checkAll(t, v, cases)
}

func TestGitHubIsLoadedOncePerFile(t *testing.T) {
	t.Parallel()
	dir := specsDir(t)
	first, err := apispec.GitHub(dir)
	require.NoError(t, err)
	second, err := apispec.GitHub(dir + "/")
	require.NoError(t, err)
	require.Same(t, first, second)
}

func TestGitHubResponses(t *testing.T) {
	t.Parallel()
	v, err := apispec.GitHub(specsDir(t))
	require.NoError(t, err)
	const sha = "0123456789abcdef0123456789abcdef01234567"
	r := httptest.NewRequest("GET", "/repos/acme/analytics/git/ref/heads/main", nil)
	header := http.Header{"Content-Type": {"application/json; charset=utf-8"}}

	good := `{"ref":"refs/heads/main","node_id":"REF_1","url":"https://api.github.com/repos/acme/analytics/git/refs/heads/main",` +
		`"object":{"type":"commit","sha":"` + sha + `","url":"https://api.github.com/repos/acme/analytics/git/commits/` + sha + `"}}`
	require.NoError(t, v.ValidateResponse(r, http.StatusOK, header, []byte(good)))

	missingObject := `{"ref":"refs/heads/main","node_id":"REF_1","url":"https://api.github.com/repos/acme/analytics/git/refs/heads/main"}`
	err = v.ValidateResponse(r, http.StatusOK, header, []byte(missingObject))
	require.ErrorContains(t, err, `GET /repos/{owner}/{repo}/git/ref/{ref} (git/get-ref): response 200`)
	require.ErrorContains(t, err, `property "object" is missing`)
}

func TestSlack(t *testing.T) {
	t.Parallel()
	v, err := apispec.Slack(specsDir(t))
	require.NoError(t, err)
	form := func(values url.Values) string { return values.Encode() }
	formHeader := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Bearer xoxb-1"}}

	cases := []requestCase{
		{name: "post a message with the token in the Authorization header", method: "POST", target: "/api/chat.postMessage",
			header: formHeader, body: form(url.Values{"channel": {"C0DEPLOYS"}, "text": {"hello"}})},
		{name: "history with numeric bounds", method: "GET", target: "/api/conversations.history?channel=C0DEPLOYS&limit=10&oldest=1732570000.000100",
			header: formHeader},
		{name: "channel missing", method: "POST", target: "/api/chat.postMessage", header: formHeader,
			body: form(url.Values{"text": {"hello"}}), wantStatus: 400, wantMessage: "channel"},
		{name: "limit is not a number", method: "GET", target: "/api/conversations.history?channel=C0DEPLOYS&limit=ten",
			header: formHeader, wantStatus: 400, wantMessage: `parameter "limit" in query`},
		{name: "a read POSTed as a form with the token in it, as slack-go does", method: "POST",
			target: "/api/conversations.history", header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			body: form(url.Values{"token": {"xoxb-1"}, "channel": {"C0DEPLOYS"}, "limit": {"10"}})},
		{name: "a view as a JSON object", method: "POST", target: "/api/views.open", header: jsonHeader(),
			body: `{"trigger_id":"1337.42","view":{"type":"modal","title":{"type":"plain_text","text":"Declare"}}}`},
		{name: "a view without its trigger", method: "POST", target: "/api/views.open", header: jsonHeader(),
			body: `{"view":{"type":"modal"}}`, wantStatus: 400, wantMessage: `property "trigger_id" is missing`},
		{name: "Socket Mode's connections.open, newer than the description", method: "POST",
			target: "/api/apps.connections.open", header: formHeader},
		{name: "unknown method", method: "POST", target: "/api/chat.shout", header: formHeader,
			wantStatus: 404, wantMessage: "no operation in the API description matches POST /api/chat.shout"},
	}
	checkAll(t, v, cases)
}

func TestPagerDuty(t *testing.T) {
	t.Parallel()
	dir := specsDir(t)
	rest, err := apispec.PagerDutyREST(dir)
	require.NoError(t, err)
	events, err := apispec.PagerDutyEvents(dir)
	require.NoError(t, err)

	restHeader := func(from string) http.Header {
		h := http.Header{
			"Content-Type":  {"application/json"},
			"Accept":        {"application/vnd.pagerduty+json;version=2"},
			"Authorization": {"Token token=y_NbAkKc66ryYTWUXYEu"},
		}
		if from != "" {
			h.Set("From", from)
		}
		return h
	}
	const incident = `{"incident":{"type":"incident","title":"Checkout errors","urgency":"high",` +
		`"service":{"id":"PSERVICE","type":"service_reference"}}}`
	restCases := []requestCase{
		{name: "create an incident (id of a reference is read-only yet required)", method: "POST", target: "/incidents",
			header: restHeader("carol@example.com"), body: incident},
		{name: "create an incident without From", method: "POST", target: "/incidents", header: restHeader(""),
			body: incident, wantStatus: 400, wantMessage: `parameter "From" in header`},
		{name: "urgency outside the enum", method: "POST", target: "/incidents", header: restHeader("carol@example.com"),
			body: strings.Replace(incident, `"high"`, `"urgent"`, 1), wantStatus: 400, wantMessage: "urgency"},
	}
	eventCases := []requestCase{
		{name: "trigger", method: "POST", target: "/v2/enqueue", header: jsonHeader(),
			body: `{"routing_key":"R015","event_action":"trigger","dedup_key":"inc-1",` +
				`"payload":{"summary":"Checkout errors","source":"opsbot","severity":"critical"}}`},
		{name: "severity outside the enum", method: "POST", target: "/v2/enqueue", header: jsonHeader(),
			body: `{"routing_key":"R015","event_action":"trigger",` +
				`"payload":{"summary":"Checkout errors","source":"opsbot","severity":"urgent"}}`,
			wantStatus: 400, wantMessage: "severity"},
		{name: "without the /v2 prefix of the server URL", method: "POST", target: "/enqueue", header: jsonHeader(),
			body: `{}`, wantStatus: 404, wantMessage: "/enqueue"},
	}
	t.Run("REST", func(t *testing.T) { checkAll(t, rest, restCases) })
	t.Run("Events", func(t *testing.T) { checkAll(t, events, eventCases) })
}

func TestStatuspage(t *testing.T) {
	t.Parallel()
	v, err := apispec.Statuspage(specsDir(t))
	require.NoError(t, err)
	header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"OAuth 89a229ce"}}

	cases := []requestCase{
		{name: "create an incident", method: "POST", target: "/v1/pages/gytm4qzbx9t6/incidents", header: header,
			body: `{"incident":{"name":"Checkout errors","status":"investigating","body":"We are looking into it."}}`},
		{name: "status outside the enum", method: "POST", target: "/v1/pages/gytm4qzbx9t6/incidents", header: header,
			body: `{"incident":{"name":"Checkout errors","status":"on fire"}}`, wantStatus: 400, wantMessage: "status"},
		{name: "without the /v1 prefix of the server URL", method: "GET", target: "/pages/gytm4qzbx9t6/incidents",
			header: header, wantStatus: 404, wantMessage: "GET /pages/gytm4qzbx9t6/incidents"},
	}
	checkAll(t, v, cases)
}

func TestFind(t *testing.T) {
	t.Parallel()
	existing := t.TempDir()
	missing := existing + "/missing"

	cases := []struct {
		name       string
		fromEnv    string
		candidates []string
		want       string
		wantErr    bool
	}{
		{name: "the environment wins", fromEnv: existing, candidates: []string{missing}, want: existing},
		{name: "a set but missing environment folder is an error", fromEnv: missing, candidates: []string{existing}, wantErr: true},
		{name: "first existing candidate", candidates: []string{missing, existing}, want: existing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := apispec.Find(c.fromEnv, c.candidates...)
			if c.wantErr {
				require.True(t, errors.Is(err, apispec.ErrNotFound), "error: %v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}
