// Package newrelic reads an APM application's response time from New Relic through NerdGraph,
// New Relic's GraphQL API, so that post-deployment verification can compare the time since a
// deploy with the window before it.
//
// It runs one NRQL query (SELECT percentile(duration, 95) FROM Transaction …) as an account's
// nrql field. Every error a Client returns for a request NerdGraph refused, failed or never
// answered wraps an *Error that says whether trying again later may help.
package newrelic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Client runs NRQL queries with a user API key.
type Client struct {
	endpoint string
	apiKey   string
	http     *http.Client
}

// New returns a Client for the NerdGraph at baseURL (https://api.newrelic.com, or
// https://api.eu.newrelic.com for EU accounts). httpClient may be nil for http.DefaultClient;
// deadlines come from each call's context.
func New(baseURL, apiKey string, httpClient *http.Client) (*Client, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the New Relic URL %q: %w", baseURL, err)
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{endpoint: base.JoinPath("graphql").String(), apiKey: apiKey, http: httpClient}, nil
}

// Error is a NerdGraph request that was refused, failed or never answered.
type Error struct {
	StatusCode int // NerdGraph's HTTP status; 0 when no answer arrived
	// Messages and Classes are the GraphQL errors' messages and error classes (e.g. TIMEOUT),
	// whether NerdGraph answered 200 or not.
	Messages []string
	Classes  []string
	Err      error // why no answer arrived, when none did
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "calling NerdGraph: " + e.Err.Error()
	}
	return fmt.Sprintf("NerdGraph answered %d: %s", e.StatusCode, strings.Join(e.Messages, "; "))
}

func (e *Error) Unwrap() error { return e.Err }

// transientClasses are the GraphQL error classes New Relic's own client retries.
var transientClasses = []string{"TIMEOUT", "INTERNAL_SERVER_ERROR", "SERVER_ERROR"}

// Transient reports whether the same request may succeed later: no answer arrived (unless the
// caller cancelled), NerdGraph failed (5xx) or was rate limiting (429), or the query timed out or
// failed on New Relic's side. A bad key, an inaccessible account or a bad query is permanent.
func (e *Error) Transient() bool {
	if e.Err != nil {
		return !errors.Is(e.Err, context.Canceled)
	}
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests ||
		slices.ContainsFunc(e.Classes, func(class string) bool { return slices.Contains(transientClasses, class) })
}

const nrqlDocument = `query($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { nrql(query: $nrql) { results } } } }`

// ResponseTimeP95 reads the 95th percentile of the named application's transaction durations
// from from up to to. found is false when the application had no transactions then (or does not
// exist: NRQL cannot tell the two apart).
func (c *Client) ResponseTimeP95(ctx context.Context, accountID int, appName string, from, to time.Time) (p95 time.Duration, found bool, err error) {
	nrql := fmt.Sprintf("SELECT percentile(duration, 95) FROM Transaction WHERE appName = '%s' SINCE %d UNTIL %d",
		nrqlString.Replace(appName), from.UnixMilli(), to.UnixMilli())
	var results []struct {
		Percentile map[string]*float64 `json:"percentile.duration"`
	}
	if err := c.query(ctx, accountID, nrql, &results); err != nil {
		return 0, false, fmt.Errorf("reading the p95 response time of %s in New Relic account %d: %w", appName, accountID, err)
	}
	if len(results) == 0 || results[0].Percentile["95"] == nil {
		return 0, false, nil
	}
	seconds := *results[0].Percentile["95"]
	return time.Duration(seconds * float64(time.Second)), true, nil
}

// nrqlString escapes text for a single-quoted NRQL string.
var nrqlString = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

type graphQLError struct {
	Message    string `json:"message"`
	Extensions struct {
		ErrorClass string `json:"errorClass"`
	} `json:"extensions"`
}

// query runs nrql in the account and decodes its results into results.
func (c *Client) query(ctx context.Context, accountID int, nrql string, results any) error {
	body, err := json.Marshal(map[string]any{
		"query":     nrqlDocument,
		"variables": map[string]any{"accountId": accountID, "nrql": nrql},
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("API-Key", c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &Error{Err: err}
	}
	var answer struct {
		Data *struct {
			Actor struct {
				Account struct {
					NRQL struct {
						Results json.RawMessage `json:"results"`
					} `json:"nrql"`
				} `json:"account"`
			} `json:"actor"`
		} `json:"data"`
		Errors []graphQLError `json:"errors"`
	}
	decodeErr := json.Unmarshal(raw, &answer)
	if resp.StatusCode != http.StatusOK || len(answer.Errors) > 0 {
		refusal := &Error{StatusCode: resp.StatusCode}
		for _, e := range answer.Errors {
			refusal.Messages = append(refusal.Messages, e.Message)
			refusal.Classes = append(refusal.Classes, e.Extensions.ErrorClass)
		}
		if len(refusal.Messages) == 0 {
			refusal.Messages = []string{string(raw)}
		}
		return refusal
	}
	if decodeErr != nil {
		return fmt.Errorf("decoding NerdGraph's answer: %w", decodeErr)
	}
	if answer.Data == nil {
		return errors.New("NerdGraph answered without data")
	}
	if err := json.Unmarshal(answer.Data.Actor.Account.NRQL.Results, results); err != nil {
		return fmt.Errorf("decoding the NRQL results: %w", err)
	}
	return nil
}
