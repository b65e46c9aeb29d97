// Package fakeslack is the sandbox Slack workspace: a stateful fake of the Web API methods and the
// Socket Mode connection that opsbot uses, served over real HTTP and WebSocket on loopback so that
// the unmodified slack-go client talks to it.
//
// It rejects what Slack would reject (Block Kit limits, unknown channels, bad tokens, expired
// triggers, rate limits), so a bot that passes its tests against the fake does not discover its
// mistakes in production. Tests, `opsbot console` and load tools act as the workspace's people
// (SlashCommand, Click, SubmitView, PostAsUser, Pin, React), watch what they would see
// (Subscribe, Messages, OpenView) and inject faults (Disconnect, DropSockets, DuplicateNext,
// RateLimitNext). An action returns once the bot has acknowledged its envelope or Slack gave up
// (after waiting up to the ack deadline for a connection, then up to three retries), and Stats
// counts how the bot did.
//
// Point slack-go at it with
//
//	api := slack.New(fakeslack.BotToken, slack.OptionAppLevelToken(fakeslack.AppToken),
//		slack.OptionAPIURL(srv.APIURL()))
//	client := socketmode.New(api)
//
// Two clocks: the workspace clock (Options.Clock) stamps messages and ages triggers and
// response URLs, and may be advanced; acknowledgement deadlines, pings and rate limits run on real
// time, as they do at Slack whatever the workspace's calendar says.
package fakeslack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/clock"
)

// Slack's own numbers, used when Options leaves them zero.
const (
	// DefaultAckDeadline is how long Slack waits for an envelope's acknowledgement.
	DefaultAckDeadline = 3 * time.Second
	// DefaultPingInterval is how often Slack pings a Socket Mode connection; slack-go gives up on a
	// connection that has not been pinged for 30 s.
	DefaultPingInterval = 10 * time.Second
)

// ErrClosed is returned by actions on a Server that has been closed.
var ErrClosed = errors.New("fakeslack: server closed")

// RequestValidator checks a Web API request against Slack's published API description before the
// fake handles it (sandbox/apispec provides one). body is the request body, already read.
type RequestValidator interface {
	ValidateRequest(r *http.Request, body []byte) error
}

// Options configures a Server. The zero value is Slack's behaviour on the real clock.
type Options struct {
	// Clock is the workspace clock: message timestamps, trigger and response_url lifetimes.
	Clock clock.Clock
	// AckDeadline is how long an envelope may wait for its ack before Slack re-delivers it.
	AckDeadline time.Duration
	// PingInterval is how often each Socket Mode connection is pinged.
	PingInterval time.Duration
	// RateLimits overrides Slack's rate limits (see DefaultRateLimits).
	RateLimits RateLimits
	// Validator, when set, sees every Web API request; a request it refuses is answered
	// invalid_arguments, as Slack answers a request that does not match its description.
	Validator RequestValidator
	// Logger receives one line per notable event; the zero value logs nothing.
	Logger zerolog.Logger
}

// Server is the sandbox workspace. Create it with New and stop it with Close.
type Server struct {
	opts     Options
	limits   resolvedLimits
	listener net.Listener
	http     *http.Server
	baseURL  string
	feed     feed

	ctx     context.Context // cancelled by Close; every goroutine the server starts watches it
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	lifeMu  sync.Mutex // orders spawn against Close
	closing bool

	mu         sync.Mutex // guards everything below
	users      []*user
	groups     []*userGroup
	channels   []*channel // in creation order
	lastMicros int64      // newest message ts, in microseconds
	seq        int64
	serial     int // for generated channel and view IDs
	triggers   map[string]*trigger
	hooks      map[string]*hook
	views      map[string]*view
	modals     map[string][]*view // user → open modal stack, root first
	confirms   map[string]*pendingConfirm
	socket     socketState
	faults     faults
	stats      Stats
}

// faults are the failures a test asked for and that have not happened yet.
type faults struct {
	duplicateNext int // envelopes to deliver twice
	rateLimitNext int // Web API calls to answer 429
}

// New starts a sandbox workspace listening on 127.0.0.1 at a free port.
func New(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.AckDeadline <= 0 {
		opts.AckDeadline = DefaultAckDeadline
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the sandbox Slack: %w", err)
	}
	listener := stampingListener{tcp}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:     opts,
		limits:   opts.RateLimits.resolve(),
		listener: listener,
		baseURL:  "http://" + listener.Addr().String(),
		ctx:      ctx,
		cancel:   cancel,
		users:    seedUsers(),
		groups:   seedGroups(),
		channels: seedChannels(opts.Clock.Now()),
		triggers: map[string]*trigger{},
		hooks:    map[string]*hook{},
		views:    map[string]*view{},
		modals:   map[string][]*view{},
		confirms: map[string]*pendingConfirm{},
		socket:   newSocketState(),
		stats:    newStats(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/link/", s.serveSocket)
	mux.HandleFunc("/hooks/", s.serveResponseURL)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Go(func() {
		if err := s.http.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logger.Error().Err(err).Msg("sandbox Slack stopped serving")
		}
	})
	s.opts.Logger.Info().Str("api_url", s.APIURL()).Msg("sandbox Slack listening")
	return s, nil
}

// stampingListener accepts connections that can note when the kernel received what is read
// from them (startStamping, for Socket Mode). An ack's latency ends there (readAcks), not when
// this process got round to reading it: it is busy meanwhile serving the bot's Web API calls
// and response_url posts, which Slack would serve on other machines. Otherwise a bot that
// calls the Web API under load is measured with the sandbox's own delays added (BENCHMARKS.md,
// section 1).
type stampingListener struct{ net.Listener }

func (l stampingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return stamped(c), nil
}

// APIURL is the Web API base URL for slack.OptionAPIURL, e.g. "http://127.0.0.1:41234/api/".
func (s *Server) APIURL() string { return s.baseURL + "/api/" }

// Close disconnects every socket, stops serving and waits for the server's goroutines.
func (s *Server) Close() error {
	s.lifeMu.Lock()
	s.closing = true
	s.lifeMu.Unlock()
	s.cancel()
	s.closeSockets()
	err := s.http.Close()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("closing the sandbox Slack: %w", err)
	}
	return nil
}

// spawn runs f on a goroutine that Close waits for. Once Close has begun it runs nothing and
// reports false.
func (s *Server) spawn(f func()) bool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Go(f)
	return true
}

// now is the workspace time.
func (s *Server) now() time.Time { return s.opts.Clock.Now() }

// nextTS returns a Slack message timestamp ("1732570000.000100"): seconds from the workspace
// clock, strictly increasing. Callers hold s.mu.
func (s *Server) nextTS() string {
	micros := s.now().UnixMicro()
	if micros <= s.lastMicros {
		micros = s.lastMicros + 1
	}
	s.lastMicros = micros
	return fmt.Sprintf("%d.%06d", micros/1e6, micros%1e6)
}

// nextSerial returns IDs such as "C1000001" for things created at run time. Callers hold s.mu.
func (s *Server) nextSerial(prefix string) string {
	s.serial++
	return fmt.Sprintf("%s1%06d", prefix, s.serial)
}
