// Package fakestatuspage is the sandbox Statuspage: a stateful fake of the Atlassian Statuspage
// REST API v1 calls opsbot makes (components, incidents and their updates), served over HTTP on
// loopback so that opsbot's own Statuspage client talks to it unchanged.
//
// It refuses what Statuspage would refuse: every request is checked against Statuspage's API
// description (Options.SpecsDir, see sandbox/apispec), must carry the API key, and counts
// against Statuspage's rate limit of one request a second per key, measured over a rolling
// minute (429 with Retry-After). Statuspage's own checks that the description does not carry
// (components of the page, metadata shape, text lengths) answer 422.
//
// Point a client at APIURL(), which includes the /v1 prefix, with the key APIKey and the page
// PageID ("Analytics status", components API, Dashboard and Ingestion, all operational). Tests,
// drills and `opsbot console` read what the public would see with Incidents and Components, and
// inject faults with Fail.
package fakestatuspage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
)

// The sandbox page. Configs, scripts and tests name these directly, so they never change.
const (
	// APIKey is the API key; requests must carry "Authorization: OAuth " + APIKey.
	APIKey   = "sandbox-statuspage-key"
	PageID   = "sandboxpage"
	PageName = "Analytics status"

	ComponentAPI       = "apicomponent"
	ComponentDashboard = "dashboardcmp"
	ComponentIngestion = "ingestioncmp"
)

// DefaultRequestsPerMinute is Statuspage's rate limit: one request a second per API key,
// measured over a rolling minute.
const DefaultRequestsPerMinute = 60

// Fault kinds for Fail, named as `opsbot console` names them after "statuspage".
const (
	Fault429 = "429" // Statuspage answers 429 Too Many Requests with Retry-After
	Fault500 = "500" // Statuspage answers 500 Internal Server Error
)

// requestLimit bounds a request body: an incident update's body may hold 25,000 characters.
const requestLimit = 1 << 20

// Options configures a Server. The zero value is a working page on the real clock that does not
// check requests against Statuspage's API description.
type Options struct {
	// Clock stamps incidents, updates and components.
	Clock clock.Clock
	// SpecsDir is the folder of vendor API descriptions (shared/specs); when set, every request
	// is checked against Statuspage's description before it is handled.
	SpecsDir string
	// RequestsPerMinute overrides the rate limit (default DefaultRequestsPerMinute). The limit
	// runs on the real clock, as Statuspage's does whatever the sandbox's calendar says.
	RequestsPerMinute int
}

// Call is one request the fake answered.
type Call struct {
	Method string
	Path   string // as Statuspage sees it: "/v1/pages/sandboxpage/incidents"
	Status int
}

// requestValidator is what sandbox/apispec provides.
type requestValidator interface {
	ValidateRequest(r *http.Request, body []byte) error
}

// Server is the sandbox Statuspage. Create it with New and stop it with Close.
type Server struct {
	opts    Options
	spec    requestValidator
	http    *http.Server
	baseURL string
	mux     *http.ServeMux
	wg      sync.WaitGroup

	mu         sync.Mutex // guards everything below; held for the whole of each request
	components []*Component
	incidents  []*Incident // in creation order
	serial     int
	recent     []time.Time // real times of the requests in the last minute, for the rate limit
	faults     []string    // kinds of the next requests' injected failures, in order
	calls      []Call
}

// New starts a sandbox Statuspage listening on 127.0.0.1 at a free port.
func New(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.RequestsPerMinute <= 0 {
		opts.RequestsPerMinute = DefaultRequestsPerMinute
	}
	s := &Server{opts: opts}
	if opts.SpecsDir != "" {
		spec, err := apispec.Statuspage(opts.SpecsDir)
		if err != nil {
			return nil, fmt.Errorf("starting the sandbox Statuspage: %w", err)
		}
		s.spec = spec
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the sandbox Statuspage: %w", err)
	}
	s.baseURL = "http://" + listener.Addr().String()
	s.components = seedComponents(s.now())
	s.mux = s.routes()
	s.http = &http.Server{Handler: http.HandlerFunc(s.front), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Go(func() {
		// Serve returns ErrServerClosed after Close; any other error leaves requests unanswered,
		// which the client reports itself.
		_ = s.http.Serve(listener)
	})
	return s, nil
}

// APIURL is the API's base URL, with Statuspage's /v1 prefix: requests go to
// APIURL() + "/pages/" + PageID + "/incidents".
func (s *Server) APIURL() string { return s.baseURL + "/v1" }

// Close stops serving at once and drops open connections.
// (A graceful shutdown would wait seconds for connections a client opened but never used.)
func (s *Server) Close() error {
	err := s.http.Close()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("closing the sandbox Statuspage: %w", err)
	}
	return nil
}

// Fail makes the next n requests fail as kind says.
func (s *Server) Fail(kind string, n int) error {
	if kind != Fault429 && kind != Fault500 {
		return fmt.Errorf("unknown Statuspage fault %q (want %s or %s)", kind, Fault429, Fault500)
	}
	if n < 1 {
		return fmt.Errorf("fault %s for Statuspage: n must be at least 1, got %d", kind, n)
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

// front is what every request goes through before its handler: the call log, injected faults,
// the API key, the rate limit and the API description, in the order Statuspage applies them.
func (s *Server) front(w http.ResponseWriter, r *http.Request) {
	recorder := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	w = recorder
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Status: recorder.status})
	}()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, requestLimit))
	if err != nil {
		fail(w, http.StatusRequestEntityTooLarge, "Request body too large")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if len(s.faults) > 0 {
		kind := s.faults[0]
		s.faults = s.faults[1:]
		if kind == Fault429 {
			w.Header().Set("Retry-After", "1")
			fail(w, http.StatusTooManyRequests, "Rate limit exceeded")
		} else {
			fail(w, http.StatusInternalServerError, "Internal server error")
		}
		return
	}
	if r.Header.Get("Authorization") != "OAuth "+APIKey {
		fail(w, http.StatusUnauthorized, "Could not authenticate")
		return
	}
	if wait, limited := s.rateLimit(time.Now()); limited {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		fail(w, http.StatusTooManyRequests, "Rate limit exceeded")
		return
	}
	if s.spec != nil {
		if err := s.spec.ValidateRequest(r, body); err != nil {
			var specErr *apispec.Error
			status := http.StatusBadRequest
			if errors.As(err, &specErr) {
				status = specErr.Status
			}
			fail(w, status, err.Error())
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// rateLimit counts a request made at real time now against the rolling minute, or says how long
// until the oldest request in it leaves. Callers hold s.mu.
func (s *Server) rateLimit(now time.Time) (time.Duration, bool) {
	for len(s.recent) > 0 && now.Sub(s.recent[0]) >= time.Minute {
		s.recent = s.recent[1:]
	}
	if len(s.recent) >= s.opts.RequestsPerMinute {
		return s.recent[0].Add(time.Minute).Sub(now), true
	}
	s.recent = append(s.recent, now)
	return 0, false
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

// now is the page's time. Callers hold s.mu.
func (s *Server) now() time.Time { return s.opts.Clock.Now().UTC() }

// nextID returns a Statuspage-style twelve-character ID. Callers hold s.mu.
func (s *Server) nextID(prefix string) string {
	s.serial++
	return fmt.Sprintf("%s%0*d", prefix, 12-len(prefix), s.serial)
}
