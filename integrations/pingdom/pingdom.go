// Package pingdom reads the status of a Pingdom uptime check through the Pingdom API 3.1, so that
// post-deployment verification can tell whether the application is reachable from outside.
//
// Every error a Client returns for a request Pingdom refused or never answered wraps an *Error
// that says whether trying again later may help.
package pingdom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Client reads checks with an API token.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a Client for the Pingdom API at baseURL (https://api.pingdom.com). httpClient may
// be nil for http.DefaultClient; deadlines come from each call's context.
func New(baseURL, token string, httpClient *http.Client) (*Client, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the Pingdom URL %q: %w", baseURL, err)
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: base, token: token, http: httpClient}, nil
}

// Error is a request Pingdom refused or never answered.
type Error struct {
	StatusCode int    // Pingdom's answer; 0 when none arrived
	Message    string // Pingdom's errormessage, when it gave one
	Err        error  // why no answer arrived, when none did
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "calling Pingdom: " + e.Err.Error()
	}
	return fmt.Sprintf("Pingdom answered %d: %s", e.StatusCode, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Transient reports whether the same request may succeed later: no answer arrived (unless the
// caller cancelled), or Pingdom failed (5xx) or was rate limiting (429). Other refusals (a bad
// token, an unknown check) are permanent.
func (e *Error) Transient() bool {
	if e.Err != nil {
		return !errors.Is(e.Err, context.Canceled)
	}
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests
}

// Status is a check's status as Pingdom reports it.
type Status string

// The statuses of a check.
const (
	StatusUp              Status = "up"
	StatusDown            Status = "down"
	StatusUnconfirmedDown Status = "unconfirmed_down" // failed once; Pingdom is confirming from elsewhere
	StatusUnknown         Status = "unknown"          // not tested yet
	StatusPaused          Status = "paused"
)

// Check is an uptime check and its current status.
type Check struct {
	ID     int
	Name   string
	Status Status
}

// CheckStatus reads the check with the given ID.
func (c *Client) CheckStatus(ctx context.Context, checkID int) (Check, error) {
	endpoint := c.base.JoinPath("api/3.1/checks", strconv.Itoa(checkID)).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return Check{}, fmt.Errorf("reading Pingdom check %d: %w", checkID, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return Check{}, fmt.Errorf("reading Pingdom check %d: %w", checkID, &Error{Err: err})
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var refusal struct {
			Error struct {
				Message string `json:"errormessage"`
			} `json:"error"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(body, &refusal) != nil || refusal.Error.Message == "" {
			refusal.Error.Message = string(body)
		}
		return Check{}, fmt.Errorf("reading Pingdom check %d: %w", checkID,
			&Error{StatusCode: resp.StatusCode, Message: refusal.Error.Message})
	}
	var answer struct {
		Check struct {
			ID     int    `json:"id"`
			Name   string `json:"name"`
			Status Status `json:"status"`
		} `json:"check"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return Check{}, fmt.Errorf("decoding Pingdom check %d: %w", checkID, err)
	}
	return Check(answer.Check), nil
}
