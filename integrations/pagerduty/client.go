// Package pagerduty is opsbot's PagerDuty client, a thin typed layer over go-pagerduty for the
// incident flow: page the on-call (an incident on a service, or an Events API v2 trigger), find
// who is on call, ask more responders to join, post status updates to the incident's
// subscribers, and acknowledge and resolve the incident.
//
// Every method takes a context first and may be called again after a crash: where PagerDuty
// allows it, a method looks for its own effect before acting (an open incident with the key, a
// responder already asked, an incident already resolved). PagerDuty's refusals come back as
// *Error, which says whether trying again later can help (Retryable, RetryAfter).
package pagerduty

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// PagerDuty's own endpoints, used when Config leaves them empty.
const (
	DefaultAPIURL    = "https://api.pagerduty.com"
	DefaultEventsURL = "https://events.pagerduty.com"
)

// Incident statuses.
const (
	StatusTriggered    = "triggered"
	StatusAcknowledged = "acknowledged"
	StatusResolved     = "resolved"
)

// Config says which PagerDuty account to reach and as whom.
type Config struct {
	// APIURL is the REST API's base URL (default DefaultAPIURL).
	APIURL string
	// EventsURL is the Events API's base URL (default DefaultEventsURL).
	EventsURL string
	// Token is a REST API token of the account.
	Token string
	// From is the email of the PagerDuty user opsbot acts as; PagerDuty requires it on every
	// change and records it as the author.
	From string
	// HTTPClient sends the requests; its timeout bounds each one.
	HTTPClient *http.Client
}

// Client talks to one PagerDuty account. It is safe for concurrent use.
type Client struct {
	cfg Config

	mu          sync.Mutex
	requesterID string // From's user ID, looked up once: responder requests name it
}

// New returns a client for the account cfg describes.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.Token == "":
		return nil, errors.New("pagerduty: a REST API token is required")
	case cfg.From == "":
		return nil, errors.New("pagerduty: the From email is required")
	case cfg.HTTPClient == nil:
		return nil, errors.New("pagerduty: an HTTP client is required")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if cfg.EventsURL == "" {
		cfg.EventsURL = DefaultEventsURL
	}
	cfg.APIURL = strings.TrimSuffix(cfg.APIURL, "/")
	cfg.EventsURL = strings.TrimSuffix(cfg.EventsURL, "/")
	return &Client{cfg: cfg}, nil
}

// Incident is a PagerDuty incident as opsbot needs it.
type Incident struct {
	ID      string
	Number  uint
	Title   string
	Status  string // StatusTriggered, StatusAcknowledged or StatusResolved
	Urgency string // high | low
	Key     string // the incident key or dedup key it was opened with
	URL     string // the incident in PagerDuty's web app
	// CreatedAt is when it was triggered; AcknowledgedAt and ResolvedAt are zero until then.
	CreatedAt, AcknowledgedAt, ResolvedAt time.Time
}

// Person is a PagerDuty user.
type Person struct {
	ID    string
	Name  string
	Email string
}

// Trigger is an incident to open on a service.
type Trigger struct {
	ServiceID string
	Title     string
	// Urgency is "high" or "low"; empty leaves it to the service's urgency rule.
	Urgency string
	// IncidentKey identifies the incident: triggering again with the same key returns the open
	// incident instead of paging twice. Required.
	IncidentKey string
	// Body is the incident's details, added as its first note.
	Body string
}

// TriggerIncident opens an incident on t.ServiceID, which pages whoever is on call for the
// service's escalation policy, unless an open incident with t.IncidentKey exists already; that
// one is returned instead.
func (c *Client) TriggerIncident(ctx context.Context, t Trigger) (Incident, error) {
	k := c.begin(fmt.Sprintf("triggering incident %q", t.Title))
	if t.IncidentKey == "" {
		return Incident{}, fmt.Errorf("%s: an incident key is required", k.op)
	}
	open := []string{StatusTriggered, StatusAcknowledged}
	inc, found, err := k.findByKey(ctx, t.ServiceID, t.IncidentKey, open)
	if err != nil {
		return Incident{}, err
	}
	if !found {
		var createErr error
		inc, createErr = k.createIncident(ctx, t)
		if createErr != nil {
			// PagerDuty refuses a second open incident with one key: someone opened it since
			// we looked, and that incident is the one we want.
			if inc, found, err = k.findByKey(ctx, t.ServiceID, t.IncidentKey, open); err != nil || !found {
				return Incident{}, createErr
			}
		}
	}
	if t.Body != "" {
		if err := k.ensureNote(ctx, inc.ID, t.Body); err != nil {
			return Incident{}, err
		}
	}
	return inc, nil
}

// createIncident opens the incident. The details go in a note (ensureNote) because PagerDuty's
// API description and the live API disagree on the type of body.details.
func (k *call) createIncident(ctx context.Context, t Trigger) (Incident, error) {
	created, err := k.api.CreateIncidentWithContext(ctx, k.c.cfg.From, &pagerduty.CreateIncidentOptions{
		Title:       t.Title,
		Service:     &pagerduty.APIReference{ID: t.ServiceID, Type: "service_reference"},
		Urgency:     t.Urgency,
		IncidentKey: t.IncidentKey,
	})
	if err != nil {
		return Incident{}, k.fail(ctx, err)
	}
	return incidentFrom(*created), nil
}

// ensureNote adds content as a note unless the incident has that note already.
func (k *call) ensureNote(ctx context.Context, incidentID, content string) error {
	notes, err := k.api.ListIncidentNotesWithContext(ctx, incidentID)
	if err != nil {
		return k.fail(ctx, err)
	}
	if slices.ContainsFunc(notes, func(n pagerduty.IncidentNote) bool { return n.Content == content }) {
		return nil
	}
	// go-pagerduty sends the note's User.Summary as the From header.
	note := pagerduty.IncidentNote{Content: content, User: pagerduty.APIObject{Summary: k.c.cfg.From}}
	if _, err := k.api.CreateIncidentNoteWithContext(ctx, incidentID, note); err != nil {
		return k.fail(ctx, err)
	}
	return nil
}

// Event is an Events API v2 trigger.
type Event struct {
	// RoutingKey is the integration key of the service's Events API v2 integration.
	RoutingKey string
	// DedupKey identifies the alert: triggering again with the same key while it is open adds
	// to it instead of paging again. Required.
	DedupKey string
	Summary  string
	// Severity is critical, error, warning or info; the service's urgency rules may map it.
	Severity string
	// Source is where the problem is, e.g. the affected service's host name.
	Source string
}

// TriggerEvent sends a trigger through the Events API, the alternative to TriggerIncident for
// services that page through an integration. It returns the dedup key PagerDuty filed it under;
// IncidentByKey then finds the incident.
func (c *Client) TriggerEvent(ctx context.Context, e Event) (string, error) {
	k := c.begin(fmt.Sprintf("sending trigger event %q", e.Summary))
	if e.DedupKey == "" {
		return "", fmt.Errorf("%s: a dedup key is required", k.op)
	}
	resp, err := k.api.ManageEventWithContext(ctx, &pagerduty.V2Event{
		RoutingKey: e.RoutingKey,
		Action:     "trigger",
		DedupKey:   e.DedupKey,
		Payload:    &pagerduty.V2Payload{Summary: e.Summary, Source: e.Source, Severity: e.Severity},
	})
	if err != nil {
		return "", k.fail(ctx, err)
	}
	return resp.DedupKey, nil
}

// IncidentByKey returns the newest incident on the service opened with key (an incident key or
// an event's dedup key), whatever its status, or an error wrapping ErrNotFound.
func (c *Client) IncidentByKey(ctx context.Context, serviceID, key string) (Incident, error) {
	k := c.begin(fmt.Sprintf("finding the incident with key %q", key))
	inc, found, err := k.findByKey(ctx, serviceID, key, nil)
	if err != nil {
		return Incident{}, err
	}
	if !found {
		return Incident{}, fmt.Errorf("%s: %w", k.op, ErrNotFound)
	}
	return inc, nil
}

// findByKey returns the newest incident on the service with key and one of statuses (any when
// statuses is empty).
func (k *call) findByKey(ctx context.Context, serviceID, key string, statuses []string) (Incident, bool, error) {
	list, err := k.api.ListIncidentsWithContext(ctx, pagerduty.ListIncidentsOptions{
		IncidentKey: key,
		ServiceIDs:  []string{serviceID},
		Statuses:    statuses,
		DateRange:   "all", // not only the last month's
		Limit:       100,   // a key is reused by a handful of incidents at most
	})
	if err != nil {
		return Incident{}, false, k.fail(ctx, err)
	}
	if len(list.Incidents) == 0 {
		return Incident{}, false, nil
	}
	newest := slices.MaxFunc(list.Incidents, func(a, b pagerduty.Incident) int {
		return cmp.Compare(a.IncidentNumber, b.IncidentNumber)
	})
	return incidentFrom(newest), true, nil
}

// Incident returns the incident with its acknowledged and resolved times, which PagerDuty keeps
// in the incident's log (the incident itself forgets its acknowledgement once resolved).
func (c *Client) Incident(ctx context.Context, id string) (Incident, error) {
	k := c.begin("reading incident " + id)
	p, err := k.api.GetIncidentWithContext(ctx, id)
	if err != nil {
		return Incident{}, k.fail(ctx, err)
	}
	inc := incidentFrom(*p)
	log, err := k.api.ListIncidentLogEntriesWithContext(ctx, id, pagerduty.ListIncidentLogEntriesOptions{
		IsOverview: true, // status changes, without the notifications
		Limit:      100,
	})
	if err != nil {
		return Incident{}, k.fail(ctx, err)
	}
	for _, entry := range log.LogEntries {
		if entry.Type != "acknowledge_log_entry" {
			continue
		}
		if at := parseTime(entry.CreatedAt); inc.AcknowledgedAt.IsZero() || at.Before(inc.AcknowledgedAt) {
			inc.AcknowledgedAt = at
		}
	}
	return inc, nil
}

// Acknowledge acknowledges a triggered incident as the From user; one already acknowledged or
// resolved is returned as it is.
func (c *Client) Acknowledge(ctx context.Context, id string) (Incident, error) {
	return c.setStatus(ctx, "acknowledging incident "+id, id, StatusAcknowledged, StatusTriggered)
}

// Resolve resolves the incident as the From user, unless it is resolved already.
func (c *Client) Resolve(ctx context.Context, id string) (Incident, error) {
	return c.setStatus(ctx, "resolving incident "+id, id, StatusResolved, StatusTriggered, StatusAcknowledged)
}

// setStatus moves the incident to status if it is in one of from.
func (c *Client) setStatus(ctx context.Context, op, id, status string, from ...string) (Incident, error) {
	k := c.begin(op)
	p, err := k.api.GetIncidentWithContext(ctx, id)
	if err != nil {
		return Incident{}, k.fail(ctx, err)
	}
	if !slices.Contains(from, p.Status) {
		return incidentFrom(*p), nil
	}
	updated, err := k.api.ManageIncidentsWithContext(ctx, c.cfg.From, []pagerduty.ManageIncidentsOptions{{ID: id, Status: status}})
	if err != nil {
		return Incident{}, k.fail(ctx, err)
	}
	if len(updated.Incidents) != 1 {
		return Incident{}, fmt.Errorf("%s: PagerDuty answered with %d incidents, want 1", op, len(updated.Incidents))
	}
	return incidentFrom(updated.Incidents[0]), nil
}

// OnCall lists who is on call for the escalation policy now, lowest escalation level first,
// each person once.
func (c *Client) OnCall(ctx context.Context, escalationPolicyID string) ([]Person, error) {
	k := c.begin("listing who is on call for escalation policy " + escalationPolicyID)
	list, err := k.api.ListOnCallsWithContext(ctx, pagerduty.ListOnCallOptions{
		EscalationPolicyIDs: []string{escalationPolicyID},
		Includes:            []string{"users"}, // with their emails, to match them to Slack users
		Limit:               100,               // one policy's levels and schedules fit in a page
	})
	if err != nil {
		return nil, k.fail(ctx, err)
	}
	oncalls := slices.Clone(list.OnCalls)
	slices.SortStableFunc(oncalls, func(a, b pagerduty.OnCall) int {
		return cmp.Compare(a.EscalationLevel, b.EscalationLevel)
	})
	var people []Person
	for _, oc := range oncalls {
		if !slices.ContainsFunc(people, func(p Person) bool { return p.ID == oc.User.ID }) {
			people = append(people, Person{ID: oc.User.ID, Name: oc.User.Name, Email: oc.User.Email})
		}
	}
	return people, nil
}

// UserByEmail finds the PagerDuty user with the email, or returns an error wrapping ErrNotFound.
func (c *Client) UserByEmail(ctx context.Context, email string) (Person, error) {
	return c.begin("finding the PagerDuty user "+email).userByEmail(ctx, email)
}

func (k *call) userByEmail(ctx context.Context, email string) (Person, error) {
	list, err := k.api.ListUsersWithContext(ctx, pagerduty.ListUsersOptions{Query: email, Limit: 100})
	if err != nil {
		return Person{}, k.fail(ctx, err)
	}
	// The query also matches names and parts of addresses; only the exact address will do.
	for _, u := range list.Users {
		if strings.EqualFold(u.Email, email) {
			return Person{ID: u.ID, Name: u.Name, Email: u.Email}, nil
		}
	}
	return Person{}, fmt.Errorf("%s: %w", k.op, ErrNotFound)
}

// Target is whom AddResponder asks to join: a user or an escalation policy (whoever is on call
// for it).
type Target struct {
	ID   string
	Type string // PagerDuty's reference type
}

const userReference = "user_reference"

// UserTarget names a PagerDuty user.
func UserTarget(userID string) Target { return Target{ID: userID, Type: userReference} }

// PolicyTarget names an escalation policy.
func PolicyTarget(escalationPolicyID string) Target {
	return Target{ID: escalationPolicyID, Type: "escalation_policy_reference"}
}

// AddResponder asks target to join the incident, with message in the notification. A user who
// is a responder already is not asked again; a policy is asked each time, since PagerDuty keeps
// no record of which policies were asked.
func (c *Client) AddResponder(ctx context.Context, incidentID string, target Target, message string) error {
	k := c.begin(fmt.Sprintf("asking %s %s to respond to incident %s", target.Type, target.ID, incidentID))
	if target.Type == userReference {
		p, err := k.api.GetIncidentWithContext(ctx, incidentID)
		if err != nil {
			return k.fail(ctx, err)
		}
		if slices.ContainsFunc(p.IncidentResponders, func(r pagerduty.IncidentResponders) bool { return r.User.ID == target.ID }) {
			return nil
		}
	}
	requesterID, err := c.requester(ctx, k)
	if err != nil {
		return err
	}
	_, err = k.api.ResponderRequestWithContext(ctx, incidentID, pagerduty.ResponderRequestOptions{
		From:        c.cfg.From,
		Message:     message,
		RequesterID: requesterID,
		Targets: []pagerduty.ResponderRequestTargetWrapper{{
			Target: pagerduty.ResponderRequestTarget{APIObject: pagerduty.APIObject{ID: target.ID, Type: target.Type}},
		}},
	})
	if err != nil {
		return k.fail(ctx, err)
	}
	return nil
}

// requester is the From user's ID, which responder requests must name.
func (c *Client) requester(ctx context.Context, k *call) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.requesterID == "" {
		me, err := k.userByEmail(ctx, c.cfg.From)
		if err != nil {
			return "", err
		}
		c.requesterID = me.ID
	}
	return c.requesterID, nil
}

// PostStatusUpdate posts message as a status update on the incident, which PagerDuty sends to
// the incident's subscribers. PagerDuty cannot list status updates, so a repeated call posts
// again: callers record that it was posted.
func (c *Client) PostStatusUpdate(ctx context.Context, incidentID, message string) error {
	k := c.begin("posting a status update to incident " + incidentID)
	if _, err := k.api.CreateIncidentStatusUpdate(ctx, incidentID, c.cfg.From, message); err != nil {
		return k.fail(ctx, err)
	}
	return nil
}

func incidentFrom(p pagerduty.Incident) Incident {
	inc := Incident{
		ID:         p.ID,
		Number:     p.IncidentNumber,
		Title:      p.Title,
		Status:     p.Status,
		Urgency:    p.Urgency,
		Key:        p.IncidentKey,
		URL:        p.HTMLURL,
		CreatedAt:  parseTime(p.CreatedAt),
		ResolvedAt: parseTime(p.ResolvedAt),
	}
	for _, ack := range p.Acknowledgements {
		if at := parseTime(ack.At); inc.AcknowledgedAt.IsZero() || at.Before(inc.AcknowledgedAt) {
			inc.AcknowledgedAt = at
		}
	}
	return inc
}

// parseTime reads PagerDuty's ISO 8601 times; a missing or unreadable one is the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// call is one operation against PagerDuty, made of one or more requests.
type call struct {
	c   *Client
	op  string // what is being done, for errors
	api *pagerduty.Client
	// last is the operation's transport: it remembers the latest answer, because go-pagerduty's
	// errors keep its status but not the Retry-After header or the Events API's explanation.
	last *exchange
}

func (c *Client) begin(op string) *call {
	last := &exchange{client: c.cfg.HTTPClient}
	api := pagerduty.NewClient(c.cfg.Token,
		pagerduty.WithAPIEndpoint(c.cfg.APIURL), pagerduty.WithV2EventsAPIEndpoint(c.cfg.EventsURL))
	api.HTTPClient = last
	return &call{c: c, op: op, api: api, last: last}
}

// exchange sends requests for one operation, keeping the latest answer's header, and its body
// when it is an error.
type exchange struct {
	client *http.Client
	header http.Header
	body   []byte
}

// errorBodyLimit bounds how much of an error answer is kept; PagerDuty's are a few hundred bytes.
const errorBodyLimit = 64 << 10

func (x *exchange) Do(r *http.Request) (*http.Response, error) {
	resp, err := x.client.Do(r)
	if err != nil {
		return nil, err
	}
	x.header, x.body = resp.Header, nil
	if resp.StatusCode >= http.StatusMultipleChoices {
		body, err := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading PagerDuty's answer %d: %w", resp.StatusCode, err)
		}
		x.body = body
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}
