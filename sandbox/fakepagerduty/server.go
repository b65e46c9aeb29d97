// Package fakepagerduty is the sandbox PagerDuty: a stateful fake of the REST API v2 and Events
// API v2 calls opsbot makes, served over HTTP on loopback so that the unmodified go-pagerduty
// client talks to it.
//
// It refuses what PagerDuty would refuse: every request is checked against PagerDuty's own API
// descriptions (Options.SpecsDir, see sandbox/apispec), REST calls need the token, write calls a
// From header naming a user of the account, and an incident_key may not open a second incident.
// State moves as it does for a real team: an incident is assigned to whoever is on call and is
// acknowledged by them Options.AckAfter later on the injected clock, so "time to acknowledge" can
// be measured and an Offset clock's Advance makes the acknowledgement happen at once.
//
// Point go-pagerduty at it with
//
//	client := pagerduty.NewClient(fakepagerduty.Token,
//		pagerduty.WithAPIEndpoint(srv.APIURL()), pagerduty.WithV2EventsAPIEndpoint(srv.EventsURL()))
//
// The seeded account: users alice, bob, carol, dave and opsbot (NAME@example.com), the service
// "Analytics" (ServiceID) with an Events API v2 integration (RoutingKey), and the escalation
// policy EscalationPolicyID whose schedule has carol on call. Tests and `opsbot console` inject
// faults with Fail and look at the account with Incidents and Calls.
package fakepagerduty

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
)

// The sandbox account. Configs, scripts and tests name these directly, so they never change.
const (
	// Token is the REST API token; requests must carry "Authorization: Token token=" + Token.
	Token = "sandbox-pagerduty-token"
	// ServiceID is the "Analytics" service incidents are opened on.
	ServiceID   = "PSANDBOX"
	ServiceName = "Analytics"
	// RoutingKey is the integration key of the service's Events API v2 integration.
	RoutingKey = "R0SANDBOXANALYTICSEVENTS00000000"
	// EscalationPolicyID is the service's escalation policy; its only level is the on-call
	// schedule ScheduleID, on which carol is on call.
	EscalationPolicyID = "PSANDEP"
	ScheduleID         = "PSANDSC"

	Alice = "PALICE0"
	Bob   = "PBOB000"
	Carol = "PCAROL0"
	Dave  = "PDAVE00"
	// Opsbot is the user the bot acts as: PagerDuty wants a user's email in the From header
	// of every change, so teams give their bot one (opsbot@example.com).
	Opsbot = "POPSBOT"
)

// DefaultAckAfter is how long the on-call takes to acknowledge a triggered incident when
// Options.AckAfter is zero: a couple of minutes, as a paged engineer reaching a laptop does.
const DefaultAckAfter = 2 * time.Minute

// requestLimit bounds a request body; PagerDuty's own limit is far above what opsbot sends.
const requestLimit = 1 << 20

// Options configures a Server. The zero value is a working account on the real clock that does
// not check requests against PagerDuty's API descriptions.
type Options struct {
	// Clock stamps incidents and log entries and decides when the on-call acknowledges.
	Clock clock.Clock
	// SpecsDir is the folder of vendor API descriptions (shared/specs); when set, every request
	// is checked against PagerDuty's REST and Events descriptions before it is handled.
	SpecsDir string
	// AckAfter is how long after an incident is triggered the on-call acknowledges it
	// (default DefaultAckAfter); negative means nobody acknowledges.
	AckAfter time.Duration
}

// Fault kinds for Fail, named as `opsbot console` names them after "pagerduty".
const (
	Fault500 = "500" // PagerDuty answers 500 Internal Server Error
	Fault429 = "429" // PagerDuty answers 429 Too Many Requests with Retry-After
)

// Call is one request the fake answered.
type Call struct {
	Method string
	Path   string // as PagerDuty sees it: "/incidents", "/v2/enqueue"
	Status int
}

// requestValidator is what sandbox/apispec provides.
type requestValidator interface {
	ValidateRequest(r *http.Request, body []byte) error
}

// Server is the sandbox PagerDuty account. Create it with New and stop it with Close.
type Server struct {
	opts    Options
	http    *http.Server
	baseURL string
	wg      sync.WaitGroup

	mu        sync.Mutex // guards everything below; held for the whole of each request
	users     []user
	incidents []*Incident // in creation order
	serial    int         // for generated IDs
	faults    []string    // kinds of the next requests' injected failures, in order
	calls     []Call
}

// New starts a sandbox PagerDuty listening on 127.0.0.1 at a free port.
func New(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.AckAfter == 0 {
		opts.AckAfter = DefaultAckAfter
	}
	var restSpec, eventsSpec requestValidator
	if opts.SpecsDir != "" {
		var err error
		if restSpec, err = apispec.PagerDutyREST(opts.SpecsDir); err != nil {
			return nil, fmt.Errorf("starting the sandbox PagerDuty: %w", err)
		}
		if eventsSpec, err = apispec.PagerDutyEvents(opts.SpecsDir); err != nil {
			return nil, fmt.Errorf("starting the sandbox PagerDuty: %w", err)
		}
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the sandbox PagerDuty: %w", err)
	}
	s := &Server{opts: opts, baseURL: "http://" + listener.Addr().String(), users: seedUsers()}
	mux := http.NewServeMux()
	// REST and Events live under their own prefixes, as they live on their own hosts at
	// PagerDuty, so that a client sending an event to the REST endpoint fails here too.
	mux.Handle("/rest/", http.StripPrefix("/rest", s.front(newRESTAPI(s), restSpec)))
	mux.Handle("/events/", http.StripPrefix("/events", s.front(newEventsAPI(s), eventsSpec)))
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Go(func() {
		// Serve returns ErrServerClosed after Close; any other error leaves requests unanswered,
		// which the clients report themselves.
		_ = s.http.Serve(listener)
	})
	return s, nil
}

// APIURL is the REST API base URL for pagerduty.WithAPIEndpoint.
func (s *Server) APIURL() string { return s.baseURL + "/rest" }

// EventsURL is the Events API base URL for pagerduty.WithV2EventsAPIEndpoint; events go to
// EventsURL() + "/v2/enqueue".
func (s *Server) EventsURL() string { return s.baseURL + "/events" }

// Close stops serving at once and drops open connections.
// (A graceful shutdown would wait seconds for connections a client opened but never used.)
func (s *Server) Close() error {
	err := s.http.Close()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("closing the sandbox PagerDuty: %w", err)
	}
	return nil
}

// Fail makes the next n requests (REST or Events) fail as kind says.
func (s *Server) Fail(kind string, n int) error {
	if kind != Fault500 && kind != Fault429 {
		return fmt.Errorf("unknown PagerDuty fault %q (want %s or %s)", kind, Fault500, Fault429)
	}
	if n < 1 {
		return fmt.Errorf("fault %s for PagerDuty: n must be at least 1, got %d", kind, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, kind)
	}
	return nil
}

// Clear drops the faults that have not fired yet.
func (s *Server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls lists the requests answered so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Incidents returns every incident, oldest first, as it stands on the clock's now.
func (s *Server) Incidents() []Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acknowledgeDue()
	out := make([]Incident, len(s.incidents))
	for i, inc := range s.incidents {
		out[i] = inc.clone()
	}
	return out
}

// api is one of PagerDuty's two HTTP APIs as the fake serves it.
type api interface {
	// authenticate checks the request's credentials; false means it answered already.
	authenticate(w http.ResponseWriter, r *http.Request) bool
	// ServeHTTP answers a request that passed the checks.
	http.Handler
	// fail answers with status in this API's error format.
	fail(w http.ResponseWriter, status int, message string, details ...string)
}

// front is what every request goes through before its handler: the call log, injected faults,
// authentication and the API description, in the order PagerDuty would notice them.
func (s *Server) front(a api, spec requestValidator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recorder := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		w = recorder
		s.mu.Lock()
		defer s.mu.Unlock()
		defer func() {
			s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Status: recorder.status})
		}()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, requestLimit))
		if err != nil {
			a.fail(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if len(s.faults) > 0 {
			kind := s.faults[0]
			s.faults = s.faults[1:]
			s.injectFault(w, a, kind)
			return
		}
		if !a.authenticate(w, r) {
			return
		}
		if spec != nil {
			if err := spec.ValidateRequest(r, body); err != nil {
				var specErr *apispec.Error
				status := http.StatusBadRequest
				if errors.As(err, &specErr) {
					status = specErr.Status
				}
				a.fail(w, status, "Invalid Input Provided", err.Error())
				return
			}
		}
		s.acknowledgeDue()
		a.ServeHTTP(w, r)
	})
}

func (s *Server) injectFault(w http.ResponseWriter, a api, kind string) {
	switch kind {
	case Fault429:
		w.Header().Set("Retry-After", strconv.Itoa(1))
		a.fail(w, http.StatusTooManyRequests, "Rate Limit Exceeded")
	default:
		a.fail(w, http.StatusInternalServerError, "Internal Server Error")
	}
}

// statusRecorder remembers the status a handler answered, for Calls.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// now is the account's time. Callers hold s.mu.
func (s *Server) now() time.Time { return s.opts.Clock.Now().UTC() }

// nextID returns an ID such as "Q00000A" for things created at run time. Callers hold s.mu.
func (s *Server) nextID(prefix string) string {
	s.serial++
	return fmt.Sprintf("%s%06X", prefix, s.serial)
}

// userByEmail finds a user of the account; PagerDuty compares emails without regard to case.
func (s *Server) userByEmail(email string) (user, bool) {
	for _, u := range s.users {
		if strings.EqualFold(u.email, email) {
			return u, true
		}
	}
	return user{}, false
}

func (s *Server) userByID(id string) (user, bool) {
	for _, u := range s.users {
		if u.id == id {
			return u, true
		}
	}
	return user{}, false
}
