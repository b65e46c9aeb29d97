// Package fakemonitoring is the sandbox's monitoring vendors and the analytics app's health URL,
// as post-deployment verification reads them: Sentry's error counts, New Relic's response times
// (NerdGraph), Pingdom's check status and the app's /health, served on one loopback server with
// a base URL per vendor.
//
// Each vendor answers the requests opsbot's clients make, in the vendor's shapes, and refuses
// what the vendor would refuse (bad credentials, unknown organisations, projects, accounts and
// checks) or what the sandbox does not model, saying so. Data are generated from baselines on
// the sandbox clock and move with the faults of the Faults timeline shared with sandbox/fakeaws:
// FaultHealthUnhealthy takes /health and the Pingdom check down, FaultLatencyHigh quadruples New
// Relic's response times, FaultSentrySpike multiplies Sentry's errors by five.
package fakemonitoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
)

// history is how far back from its start the sandbox has data, so that a deploy made right
// after the sandbox starts can still be compared with the window before it.
const history = 3 * time.Hour

// Options configures a Server.
type Options struct {
	// Clock is the sandbox clock that generates the data; the wall clock if nil.
	Clock clock.Clock
	// Faults is the fault timeline, shared with sandbox/fakeaws; a new one on Clock if nil.
	Faults *fakeaws.Faults
	// Logger receives a line per refused request; the zero value logs nothing.
	Logger zerolog.Logger
}

// Server is the sandbox monitoring. Create it with New and stop it with Close.
type Server struct {
	clock   clock.Clock
	faults  *fakeaws.Faults
	logger  zerolog.Logger
	started time.Time

	listener net.Listener
	http     *http.Server
	wg       sync.WaitGroup
}

// New starts the sandbox monitoring on 127.0.0.1 at a free port.
func New(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Faults == nil {
		opts.Faults = fakeaws.NewFaults(opts.Clock)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the sandbox monitoring: %w", err)
	}
	s := &Server{
		clock:    opts.Clock,
		faults:   opts.Faults,
		logger:   opts.Logger,
		started:  opts.Clock.Now(),
		listener: listener,
	}
	// Each vendor under its own prefix, so that a client that drops its base URL's path fails.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sentry/api/0/organizations/{org}/events/", s.sentryEvents)
	mux.HandleFunc("POST /newrelic/graphql", s.nerdGraph)
	mux.HandleFunc("GET /pingdom/api/3.1/checks/{id}", s.pingdomCheck)
	mux.HandleFunc("GET /app/health", s.health)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Go(func() {
		if err := s.http.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error().Err(err).Msg("sandbox monitoring stopped serving")
		}
	})
	return s, nil
}

func (s *Server) baseURL() string { return "http://" + s.listener.Addr().String() }

// SentryURL is the base URL for integrations/sentry, in place of https://sentry.io.
func (s *Server) SentryURL() string { return s.baseURL() + "/sentry" }

// NewRelicURL is the base URL for integrations/newrelic, in place of https://api.newrelic.com.
func (s *Server) NewRelicURL() string { return s.baseURL() + "/newrelic" }

// PingdomURL is the base URL for integrations/pingdom, in place of https://api.pingdom.com.
func (s *Server) PingdomURL() string { return s.baseURL() + "/pingdom" }

// HealthURL is the analytics app's health check URL.
func (s *Server) HealthURL() string { return s.baseURL() + "/app/health" }

// Fault turns on the named fault (one of the fakeaws Fault constants) from now, in the shared
// timeline.
func (s *Server) Fault(name string) error { return s.faults.Set(name) }

// Clear turns every fault off from now.
func (s *Server) Clear() { s.faults.Clear() }

// Close stops serving and waits for the server's goroutine.
func (s *Server) Close() error {
	err := s.http.Close()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("closing the sandbox monitoring: %w", err)
	}
	return nil
}

// health answers like the app: 200 while it is healthy, 503 under FaultHealthUnhealthy.
func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	if s.faults.Active(fakeaws.FaultHealthUnhealthy) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// minutes returns the instants, a minute apart from from, before to that the sandbox has data
// for: not before its history begins, not after now.
func (s *Server) minutes(from, to time.Time) []time.Time {
	var instants []time.Time
	first, now := s.started.Add(-history), s.clock.Now()
	for t := from; t.Before(to) && !t.After(now); t = t.Add(time.Minute) {
		if !t.Before(first) {
			instants = append(instants, t)
		}
	}
	return instants
}

// refuse logs a refused request and writes the vendor's error body.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, body any) {
	s.logger.Info().Str("path", r.URL.Path).Int("status", status).Interface("answer", body).
		Msg("sandbox monitoring refused a request")
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
