// Package sentry counts a project's error events in a time window through Sentry's REST API, so
// that post-deployment verification can compare the errors since a deploy with the window before
// it.
//
// It calls Discover (GET /api/0/organizations/{org}/events/ with field=count() on the errors
// dataset), which counts over any window to the second. Every error a Client returns for a
// request Sentry refused or never answered wraps an *Error that says whether trying again later
// may help.
package sentry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Client reads error counts with an auth token that has the org:read scope.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a Client for the Sentry at baseURL (https://sentry.io, a regional
// https://us.sentry.io, or a self-hosted Sentry's address). httpClient may be nil for
// http.DefaultClient; deadlines come from each call's context.
func New(baseURL, token string, httpClient *http.Client) (*Client, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the Sentry URL %q: %w", baseURL, err)
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: base, token: token, http: httpClient}, nil
}

// Error is a request Sentry refused or never answered.
type Error struct {
	StatusCode int    // Sentry's answer; 0 when none arrived
	Detail     string // Sentry's explanation, when it gave one
	Err        error  // why no answer arrived, when none did
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "calling Sentry: " + e.Err.Error()
	}
	return fmt.Sprintf("Sentry answered %d: %s", e.StatusCode, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// Transient reports whether the same request may succeed later: no answer arrived (unless the
// caller cancelled), or Sentry failed (5xx) or was rate limiting (429). Other refusals (a bad
// token, an unknown organisation or project) are permanent.
func (e *Error) Transient() bool {
	if e.Err != nil {
		return !errors.Is(e.Err, context.Canceled)
	}
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests
}

// ErrorCount counts the error events of the project with the given numeric ID, in the
// organisation with the given slug, from from up to to.
func (c *Client) ErrorCount(ctx context.Context, org string, projectID int64, from, to time.Time) (int, error) {
	query := url.Values{
		"dataset": {"errors"},
		"field":   {"count()"},
		"project": {strconv.FormatInt(projectID, 10)},
		"start":   {from.UTC().Format(time.RFC3339)},
		"end":     {to.UTC().Format(time.RFC3339)},
	}
	endpoint := c.base.JoinPath("api/0/organizations", org, "events/")
	endpoint.RawQuery = query.Encode()
	var answer struct {
		Data []struct {
			Count *int `json:"count()"`
		} `json:"data"`
	}
	if err := c.get(ctx, endpoint.String(), &answer); err != nil {
		return 0, fmt.Errorf("counting the errors of Sentry project %d in %s: %w", projectID, org, err)
	}
	if len(answer.Data) == 0 || answer.Data[0].Count == nil {
		return 0, nil
	}
	return *answer.Data[0].Count, nil
}

// get decodes Sentry's JSON answer to a GET into answer.
func (c *Client) get(ctx context.Context, endpoint string, answer any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var refusal struct {
			Detail string `json:"detail"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(body, &refusal) != nil || refusal.Detail == "" {
			refusal.Detail = string(body)
		}
		return &Error{StatusCode: resp.StatusCode, Detail: refusal.Detail}
	}
	if err := json.NewDecoder(resp.Body).Decode(answer); err != nil {
		return fmt.Errorf("decoding Sentry's answer: %w", err)
	}
	return nil
}
