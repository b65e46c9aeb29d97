// Package fakegithub is a stateful GitHub for opsbot's tests, console and drills: one repository
// with real git objects, pull requests, releases, checks, deployments and an Actions workflow,
// served over HTTP on loopback so that the real go-github client talks to it unchanged.
//
// # Connecting
//
// The fake serves GitHub Enterprise Server's layout: the REST API under /api/v3/. BaseURL returns
// that prefix, which is what go-github's WithEnterpriseURLs builds from a server URL and what
// OPSBOT_GITHUB_API_URL holds for a real Enterprise Server:
//
//	srv, err := fakegithub.New(fakegithub.Options{SpecsDir: specs})
//	client, err := github.NewClient(nil).WithAuthToken(fakegithub.DefaultToken).
//		WithEnterpriseURLs(srv.BaseURL(), srv.BaseURL())
//
// A URL that forgets the prefix (an absolute "/repos/…") gets 404, so such bugs fail loudly.
// The token acts as the user "opsbot": merges, tags, releases and deployments made through the
// API are attributed to it. Links meant for people (html_url) point at https://github.com.
//
// # What a request goes through
//
// Every request is counted (Calls) and delayed by the configured Latency. Without
// "Authorization: Bearer|token <Options.Token>" it gets 401. Then a pending fault fails it, an
// hourly rate limit that is spent refuses it with 403, and a request that GitHub's own OpenAPI
// description says GitHub would refuse (see sandbox/apispec) gets GitHub's 404 or 422. Answers
// carry X-RateLimit-* headers; a GET answered 200 carries an ETag, and a repeated GET with a
// matching If-None-Match gets 304, which, as on GitHub, does not count against the rate limit.
//
// # Time
//
// Every timestamp comes from Options.Clock, and workflow runs move queued → in_progress →
// completed as that clock passes Workflow.QueueTime and Workflow.RunTime: advancing a
// clock.Offset finishes a run without waiting. Nothing runs in the background. Only the rate-limit
// window runs on the wall clock, since clients compare its reset time with theirs.
//
// # Seed
//
// main holds release v0.9.0: an annotated tag, its release, its push-triggered workflow run and a
// successful production deployment, 8 days old. develop is four squash-merged pull requests
// (#4–#7) ahead of main; its head has green CI (check runs build and test, commit status
// codecov/project) and a successful deployment to development 25 h old. #3 was closed unmerged;
// #8 is open and conflicts with develop (merging it answers 405).
//
// # Controls and inspection
//
// Tests and the console act as the world around the bot with PushCommit, SetCheck, AddReview,
// Fail and Latency, and look at the outcome with Merges, Tags, Releases, WorkflowRuns,
// Deployments, PullRequests, Branch and Calls.
//
// Simplified: commits carry no files (a tree is a stand-in hash); generated release notes list
// pull requests only; workflow runs do not create deployments; CI on a pushed commit is green at
// once unless a fault or SetCheck says otherwise.
package fakegithub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
)

// DefaultToken is the token the fake accepts when Options.Token is empty.
const DefaultToken = "ghp_sandboxtoken"

// apiPrefix is where GitHub Enterprise Server serves the REST API, and so does the fake.
const apiPrefix = "/api/v3"

// RequestValidator checks a request, as the vendor sees it, against the vendor's API description;
// *apispec.Validator is one. An *apispec.Error carries the status to answer; other errors get 422.
type RequestValidator interface {
	ValidateRequest(r *http.Request, body []byte) error
}

// Options configure a Server. The zero value is a working fake that does not check requests
// against GitHub's API description.
type Options struct {
	// Clock gives every timestamp and moves workflow runs along. Default: the wall clock.
	Clock clock.Clock
	// Token is the only credential accepted. Default: DefaultToken.
	Token string
	// Repo is the one repository, "owner/name". Default: "acme/analytics".
	Repo string
	// SpecsDir is the folder of vendor API descriptions (shared/specs); requests are checked
	// against its github/api.github.com.json. Ignored when Validator is set.
	SpecsDir string
	// Validator checks every request; nil with no SpecsDir means requests are not checked,
	// which New logs.
	Validator RequestValidator
	// Workflow describes the deploy workflow; zero fields take its defaults.
	Workflow Workflow
	// Reviewer, when set, approves every pull request as it is opened, as a teammate would:
	// the sandbox console has no GitHub user to review with. Tests leave it empty and call
	// AddReview.
	Reviewer string
	// Teammate, when set, keeps developing: each time a release pull request is merged into
	// the default branch, the next feature lands on develop (a commit with green CI) and is
	// deployed to development at once, as continuous delivery would. The console needs it to
	// release twice; tests that count commits leave it off.
	Teammate bool
	// RateLimit is the number of requests per hour, GitHub's 5000 for a token by default.
	RateLimit int
	// SecondaryRetryAfter is the Retry-After of the secondary-rate-limit faults. Default: 60 s,
	// the minute GitHub asks clients to wait.
	SecondaryRetryAfter time.Duration
	// Logger receives a line per request and the fake's notices. Default: none.
	Logger zerolog.Logger
}

// Workflow is the Actions workflow the fake runs: triggered by pushing a tag that matches
// TagPattern and by workflow_dispatch with the input Input naming the tag to deploy.
type Workflow struct {
	File       string        // default "deploy.yml"
	Name       string        // default "Deploy"
	TagPattern string        // path.Match pattern of tags whose push starts a run; default "v*"
	Input      string        // the required workflow_dispatch input; default "tag"
	QueueTime  time.Duration // queued before it starts; default 10 s, a hosted runner's usual wait
	RunTime    time.Duration // in progress before it completes; default 3 min, a small deploy
}

func (o *Options) setDefaults() {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	o.Token = cmp.Or(o.Token, DefaultToken)
	o.Repo = cmp.Or(o.Repo, "acme/analytics")
	o.RateLimit = cmp.Or(o.RateLimit, 5000)
	o.SecondaryRetryAfter = cmp.Or(o.SecondaryRetryAfter, time.Minute)
	w := &o.Workflow
	w.File = cmp.Or(w.File, "deploy.yml")
	w.Name = cmp.Or(w.Name, "Deploy")
	w.TagPattern = cmp.Or(w.TagPattern, "v*")
	w.Input = cmp.Or(w.Input, "tag")
	w.QueueTime = cmp.Or(w.QueueTime, 10*time.Second)
	w.RunTime = cmp.Or(w.RunTime, 3*time.Minute)
}

// Server is the fake GitHub. Its methods are safe for concurrent use.
type Server struct {
	opts        Options
	owner, name string
	baseURL     string // http://127.0.0.1:PORT/api/v3/
	http        *http.Server
	served      chan struct{} // closed when the HTTP server has stopped

	mu sync.Mutex
	state
	routes []route
}

// New seeds the repository and starts serving on 127.0.0.1 on a free port.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	owner, name, ok := strings.Cut(opts.Repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("repository %q is not owner/name", opts.Repo)
	}
	if opts.Validator == nil && opts.SpecsDir != "" {
		v, err := apispec.GitHub(opts.SpecsDir)
		if err != nil {
			return nil, fmt.Errorf("loading GitHub's API description: %w", err)
		}
		opts.Validator = v
	}
	if opts.Validator == nil {
		opts.Logger.Warn().Msg("fakegithub: no API description given; requests are not checked against GitHub's")
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on loopback: %w", err)
	}
	s := &Server{
		opts:    opts,
		owner:   owner,
		name:    name,
		baseURL: "http://" + listener.Addr().String() + apiPrefix + "/",
		served:  make(chan struct{}),
	}
	s.routes = routeTable()
	s.seed(opts.Clock.Now())
	s.http = &http.Server{
		Handler:           http.StripPrefix(apiPrefix, http.HandlerFunc(s.serveAPI)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
			opts.Logger.Error().Err(err).Msg("fakegithub: serving stopped")
		}
	}()
	return s, nil
}

// BaseURL is the REST API's root, ending in "/api/v3/".
func (s *Server) BaseURL() string { return s.baseURL }

// Close stops serving, cutting open connections, and waits until the server has stopped.
func (s *Server) Close() error {
	err := s.http.Close()
	<-s.served
	return err
}

// reply is what a handler answers; serveAPI writes it.
type reply struct {
	status int
	body   any // marshalled as JSON; nil for no body
	header http.Header
}

// call is one request as a handler sees it.
type call struct {
	r      *http.Request
	body   []byte
	params map[string]string
	now    time.Time
}

func (c *call) query(name string) string { return c.r.URL.Query().Get(name) }

// maxBody caps what the fake reads of a request body; opsbot's requests are a few kilobytes.
const maxBody = 1 << 20

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "reading the request body", http.StatusBadRequest)
		return
	}
	rt, params := s.match(r)
	routeName := r.Method + " (no route)"
	if rt != nil {
		routeName = rt.name()
	}
	if !sleep(r.Context(), s.countCall(routeName)) {
		return
	}

	var answer reply
	if s.authorized(r) {
		refusal := s.validate(r, body) // outside the lock: it takes up to a few milliseconds
		s.mu.Lock()
		answer = s.answer(r, body, rt, params, refusal)
		s.spendRate(answer.status == http.StatusNotModified, w.Header())
		s.mu.Unlock()
	} else {
		answer = apiError(http.StatusUnauthorized, "Bad credentials")
	}
	s.write(w, answer)
	s.opts.Logger.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", answer.status).
		Dur("took", time.Since(started)).Msg("fakegithub")
}

// validate returns GitHub's answer to a request its API description says it would refuse, or
// nil.
func (s *Server) validate(r *http.Request, body []byte) *reply {
	if s.opts.Validator == nil {
		return nil
	}
	err := s.opts.Validator.ValidateRequest(r, body)
	if err == nil {
		return nil
	}
	s.opts.Logger.Warn().Err(err).Msg("fakegithub: GitHub would refuse this request")
	status := http.StatusUnprocessableEntity
	var specErr *apispec.Error
	if errors.As(err, &specErr) {
		status = specErr.Status
	}
	refusal := apiError(status, "Invalid request.\n\n"+err.Error())
	if status == http.StatusNotFound {
		refusal = notFound()
	}
	return &refusal
}

// answer decides the response to an authenticated request; s.mu is held.
func (s *Server) answer(r *http.Request, body []byte, rt *route, params map[string]string, refusal *reply) reply {
	if fault, ok := s.takeRequestFault(); ok {
		return s.faultReply(fault)
	}
	if s.rateSpent() {
		return reply{status: http.StatusForbidden, body: object{
			"message":           "API rate limit exceeded for user ID 1.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
		}}
	}
	if refusal != nil {
		return *refusal
	}
	if rt == nil || !strings.EqualFold(params["owner"], s.owner) || !strings.EqualFold(params["repo"], s.name) {
		return notFound()
	}
	answer := rt.handle(s, &call{r: r, body: body, params: params, now: s.opts.Clock.Now()})
	if r.Method == http.MethodGet && answer.status == http.StatusOK {
		return withETag(r, answer)
	}
	return answer
}

func (s *Server) authorized(r *http.Request) bool {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "token")) && token == s.opts.Token
}

func (s *Server) write(w http.ResponseWriter, answer reply) {
	for name, values := range answer.header {
		w.Header()[name] = values
	}
	if answer.body == nil {
		w.WriteHeader(answer.status)
		return
	}
	data, err := marshal(answer.body)
	if err != nil {
		s.opts.Logger.Error().Err(err).Msg("fakegithub: encoding a response")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(answer.status)
	_, _ = w.Write(data)
}

// sleep waits d, or less if ctx ends first; it reports whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
