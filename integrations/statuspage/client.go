// Package statuspage is opsbot's Statuspage client: it publishes an incident on the team's
// public status page with its affected components, posts updates to it, and resolves it with
// the components back to operational, over Statuspage's REST API v1 (Atlassian publishes no Go
// SDK).
//
// Every method takes a context first and may be called again after a crash: each looks for its
// own effect first (an unresolved incident carrying opsbot's key, an update already posted,
// components already at the wanted status). Statuspage's refusals come back as *Error, which
// says whether trying again later can help (Retryable, RetryAfter); Statuspage allows one
// request a second per API key and answers 429 beyond that.
package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// DefaultBaseURL is Statuspage's API, used when Config leaves BaseURL empty.
const DefaultBaseURL = "https://api.statuspage.io/v1"

// IncidentStatus is where a realtime incident stands.
type IncidentStatus string

// Incident statuses.
const (
	Investigating IncidentStatus = "investigating"
	Identified    IncidentStatus = "identified"
	Monitoring    IncidentStatus = "monitoring"
	Resolved      IncidentStatus = "resolved"
)

// ComponentStatus is what the page shows for a component.
type ComponentStatus string

// Component statuses.
const (
	Operational         ComponentStatus = "operational"
	UnderMaintenance    ComponentStatus = "under_maintenance"
	DegradedPerformance ComponentStatus = "degraded_performance"
	PartialOutage       ComponentStatus = "partial_outage"
	MajorOutage         ComponentStatus = "major_outage"
)

// Impact is how bad the page says an incident is.
type Impact string

// Impacts.
const (
	ImpactNone     Impact = "none"
	ImpactMinor    Impact = "minor"
	ImpactMajor    Impact = "major"
	ImpactCritical Impact = "critical"
)

// Config says which status page to reach and how.
type Config struct {
	// BaseURL is the API's base URL, /v1 included (default DefaultBaseURL).
	BaseURL string
	// APIKey is a Statuspage API key of the page's organization.
	APIKey string
	// PageID is the page incidents are published on.
	PageID string
	// HTTPClient sends the requests; its timeout bounds each one.
	HTTPClient *http.Client
}

// Client talks to one status page. It is safe for concurrent use.
type Client struct {
	cfg Config
}

// New returns a client for the page cfg describes.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.APIKey == "":
		return nil, errors.New("statuspage: an API key is required")
	case cfg.PageID == "":
		return nil, errors.New("statuspage: a page ID is required")
	case cfg.HTTPClient == nil:
		return nil, errors.New("statuspage: an HTTP client is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	return &Client{cfg: cfg}, nil
}

// Component is one component of the page.
type Component struct {
	ID     string
	Name   string
	Status ComponentStatus
}

// Incident is an incident on the page as the public sees it.
type Incident struct {
	ID     string
	Key    string // the key opsbot created it with; empty for incidents made by hand
	Name   string
	Status IncidentStatus
	Impact Impact
	URL    string // the incident's short link on the public page
	// Components are the affected components and the status the page shows for each.
	Components map[string]ComponentStatus
	// Updates is the public history, oldest first.
	Updates    []Update
	CreatedAt  time.Time
	ResolvedAt time.Time // zero while unresolved
}

// Update is one incident update: the text subscribers were sent.
type Update struct {
	Status IncidentStatus
	Body   string
	At     time.Time
}

// NewIncident is an incident to publish.
type NewIncident struct {
	// Key is opsbot's identifier for the incident, kept in the incident's metadata: creating
	// again with the same key returns the unresolved incident that carries it. Required.
	Key  string
	Name string
	// Status defaults to Investigating.
	Status IncidentStatus
	// Impact overrides the impact Statuspage works out from the components; empty leaves it.
	Impact Impact
	// Body is the exact public text of the first update.
	Body string
	// Components are the affected components and the status to show for each.
	Components map[string]ComponentStatus
}

// Change is an update to publish on an incident; empty fields change nothing.
type Change struct {
	Status IncidentStatus
	// Body is the exact public text of the update.
	Body       string
	Components map[string]ComponentStatus
}

// metadataKey is where in an incident's metadata opsbot keeps its key. Statuspage requires
// every top-level metadata value to be an object: {"opsbot": {"key": "…"}}.
const metadataKey = "opsbot"

// CreateIncident publishes an incident and sets its components' statuses, unless an
// unresolved incident carrying n.Key exists already; that one is returned instead.
func (c *Client) CreateIncident(ctx context.Context, n NewIncident) (Incident, error) {
	op := fmt.Sprintf("publishing incident %q", n.Name)
	if n.Key == "" {
		return Incident{}, fmt.Errorf("%s: a key is required", op)
	}
	existing, found, err := c.unresolvedWithKey(ctx, op, n.Key)
	if err != nil || found {
		return existing, err
	}
	if n.Status == "" {
		n.Status = Investigating
	}
	var created incidentJSON
	err = c.do(ctx, op, http.MethodPost, "/incidents", map[string]any{"incident": incidentFields{
		Name:           n.Name,
		Status:         n.Status,
		ImpactOverride: n.Impact,
		Body:           n.Body,
		Metadata:       map[string]any{metadataKey: map[string]string{"key": n.Key}},
		ComponentIDs:   slices.Sorted(maps.Keys(n.Components)),
		Components:     n.Components,
	}}, &created)
	if err != nil {
		return Incident{}, err
	}
	return created.incident(), nil
}

// unresolvedWithKey finds the unresolved incident carrying key. It reads the first hundred
// unresolved incidents: a page with more open at once has bigger problems than a duplicate.
func (c *Client) unresolvedWithKey(ctx context.Context, op, key string) (Incident, bool, error) {
	var unresolved []incidentJSON
	if err := c.do(ctx, op, http.MethodGet, "/incidents/unresolved?per_page=100", nil, &unresolved); err != nil {
		return Incident{}, false, err
	}
	for _, inc := range unresolved {
		if inc.key() == key {
			return inc.incident(), true, nil
		}
	}
	return Incident{}, false, nil
}

// Incident returns the incident with its components and updates.
func (c *Client) Incident(ctx context.Context, id string) (Incident, error) {
	var inc incidentJSON
	if err := c.do(ctx, "reading incident "+id, http.MethodGet, "/incidents/"+id, nil, &inc); err != nil {
		return Incident{}, err
	}
	return inc.incident(), nil
}

// UpdateIncident publishes ch on the incident. What is in place already is not sent again: a
// status the incident has, components at the wanted status, and a body that is the latest
// update's text for that status (so a retried update is not posted twice).
func (c *Client) UpdateIncident(ctx context.Context, id string, ch Change) (Incident, error) {
	return c.update(ctx, "updating incident "+id, id, func(Incident) Change { return ch })
}

// ResolveIncident resolves the incident with body as its last public update and sets every
// affected component back to operational.
func (c *Client) ResolveIncident(ctx context.Context, id, body string) (Incident, error) {
	return c.update(ctx, "resolving incident "+id, id, func(inc Incident) Change {
		ch := Change{Status: Resolved, Body: body, Components: map[string]ComponentStatus{}}
		for component := range inc.Components {
			ch.Components[component] = Operational
		}
		return ch
	})
}

// update reads the incident, works out the change from it, and sends what is not in place.
func (c *Client) update(ctx context.Context, op, id string, changeFor func(Incident) Change) (Incident, error) {
	var current incidentJSON
	if err := c.do(ctx, op, http.MethodGet, "/incidents/"+id, nil, &current); err != nil {
		return Incident{}, err
	}
	inc := current.incident()
	fields, pending := missing(inc, changeFor(inc))
	if !pending {
		return inc, nil
	}
	var updated incidentJSON
	if err := c.do(ctx, op, http.MethodPatch, "/incidents/"+id, map[string]any{"incident": fields}, &updated); err != nil {
		return Incident{}, err
	}
	return updated.incident(), nil
}

// missing is the part of ch that inc does not show yet.
func missing(inc Incident, ch Change) (fields incidentFields, pending bool) {
	status := inc.Status
	if ch.Status != "" {
		status = ch.Status
	}
	if status != inc.Status {
		fields.Status, pending = status, true
	}
	if ch.Body != "" {
		posted := len(inc.Updates) > 0 && inc.Updates[len(inc.Updates)-1].Body == ch.Body &&
			inc.Updates[len(inc.Updates)-1].Status == status
		if !posted {
			fields.Status, fields.Body, pending = status, ch.Body, true
		}
	}
	for id, want := range ch.Components {
		if inc.Components[id] != want {
			if fields.Components == nil {
				fields.Components = map[string]ComponentStatus{}
			}
			fields.Components[id] = want
			pending = true
		}
	}
	fields.ComponentIDs = slices.Sorted(maps.Keys(fields.Components))
	return fields, pending
}

// Components lists the page's components.
func (c *Client) Components(ctx context.Context) ([]Component, error) {
	var list []struct {
		ID     string          `json:"id"`
		Name   string          `json:"name"`
		Status ComponentStatus `json:"status"`
		Group  bool            `json:"group"`
	}
	if err := c.do(ctx, "listing the page's components", http.MethodGet, "/components", nil, &list); err != nil {
		return nil, err
	}
	var components []Component
	for _, item := range list {
		if !item.Group { // a group only gathers components; it has no status of its own
			components = append(components, Component{ID: item.ID, Name: item.Name, Status: item.Status})
		}
	}
	return components, nil
}

// incidentFields is the body of an incident's creation or update.
type incidentFields struct {
	Name           string                     `json:"name,omitempty"`
	Status         IncidentStatus             `json:"status,omitempty"`
	ImpactOverride Impact                     `json:"impact_override,omitempty"`
	Body           string                     `json:"body,omitempty"`
	Metadata       map[string]any             `json:"metadata,omitempty"`
	ComponentIDs   []string                   `json:"component_ids,omitempty"`
	Components     map[string]ComponentStatus `json:"components,omitempty"`
}

// incidentJSON is an incident as Statuspage answers it.
type incidentJSON struct {
	ID         string                     `json:"id"`
	Name       string                     `json:"name"`
	Status     IncidentStatus             `json:"status"`
	Impact     Impact                     `json:"impact"`
	Shortlink  string                     `json:"shortlink"`
	Metadata   map[string]json.RawMessage `json:"metadata"`
	Components []struct {
		ID     string          `json:"id"`
		Status ComponentStatus `json:"status"`
	} `json:"components"`
	Updates []struct {
		Status    IncidentStatus `json:"status"`
		Body      string         `json:"body"`
		CreatedAt time.Time      `json:"created_at"`
	} `json:"incident_updates"`
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
}

// key is opsbot's key from the metadata; metadata someone else wrote there does not count.
func (j incidentJSON) key() string {
	var ours struct {
		Key string `json:"key"`
	}
	if json.Unmarshal(j.Metadata[metadataKey], &ours) != nil {
		return ""
	}
	return ours.Key
}

func (j incidentJSON) incident() Incident {
	inc := Incident{
		ID: j.ID, Key: j.key(), Name: j.Name, Status: j.Status, Impact: j.Impact, URL: j.Shortlink,
		Components: map[string]ComponentStatus{}, CreatedAt: j.CreatedAt,
	}
	if j.ResolvedAt != nil {
		inc.ResolvedAt = *j.ResolvedAt
	}
	for _, c := range j.Components {
		inc.Components[c.ID] = c.Status
	}
	// Statuspage lists updates newest first.
	for _, u := range slices.Backward(j.Updates) {
		inc.Updates = append(inc.Updates, Update{Status: u.Status, Body: u.Body, At: u.CreatedAt})
	}
	return inc
}

// errorBodyLimit bounds how much of an error answer is read; Statuspage's are short.
const errorBodyLimit = 64 << 10

// do sends one request about the page: in, if not nil, as the JSON body; the answer decoded
// into out, if not nil.
func (c *Client) do(ctx context.Context, op, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		body = bytes.NewReader(data)
	}
	r, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+"/pages/"+c.cfg.PageID+path, body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	r.Header.Set("Authorization", "OAuth "+c.cfg.APIKey)
	r.Header.Set("Accept", "application/json")
	if in != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.cfg.HTTPClient.Do(r)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return &Error{Op: op, Message: err.Error(), err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= http.StatusMultipleChoices {
		data, err := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
		if err != nil {
			return &Error{Op: op, Message: "reading the answer: " + err.Error(), err: err}
		}
		return &Error{Op: op, Status: resp.StatusCode, Message: explanation(data), retryAfter: retryAfter(resp.Header)}
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return &Error{Op: op, Message: "decoding the answer: " + err.Error(), err: err}
		}
	}
	return nil
}
