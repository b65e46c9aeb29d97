package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/opsbot-dev/opsbot/access"
	"github.com/opsbot-dev/opsbot/bot"
	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/commands"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/deploy"
	"github.com/opsbot-dev/opsbot/incident"
	opsaws "github.com/opsbot-dev/opsbot/integrations/aws"
	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/integrations/newrelic"
	"github.com/opsbot-dev/opsbot/integrations/pagerduty"
	"github.com/opsbot-dev/opsbot/integrations/pingdom"
	"github.com/opsbot-dev/opsbot/integrations/sentry"
	"github.com/opsbot-dev/opsbot/integrations/slackapi"
	"github.com/opsbot-dev/opsbot/integrations/statuspage"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

func runServe(ctx context.Context, env environment, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	path := fs.String("config", "opsbot.yaml", "configuration file")
	var applyExtra func(*serveOptions) error
	if extraServeFlags != nil {
		applyExtra = extraServeFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := loadConfig(*path, env)
	if err != nil {
		return err
	}
	if ps := cfg.CheckEnv(); len(ps) > 0 {
		fmt.Fprintln(env.stderr, ps.Error())
		return errReported
	}
	opts := serveOptions{Log: newLogger(env.stderr), Clock: clock.Real{}}
	if applyExtra != nil {
		if err := applyExtra(&opts); err != nil {
			return usageError{err.Error()}
		}
	}
	return serve(ctx, cfg, opts)
}

// extraServeFlags is nil in the binary that ships. The chaos build (chaos.go, build tag chaos)
// sets it to register its hidden flags on serve and apply them to the options once parsed.
var extraServeFlags func(fs *flag.FlagSet) (apply func(*serveOptions) error)

// loadConfig reads the configuration, printing every problem with its line.
func loadConfig(path string, env environment) (*config.Config, error) {
	cfg, err := config.LoadFile(path, env.getenv)
	var ps config.Problems
	if errors.As(err, &ps) {
		fmt.Fprintln(env.stderr, ps.Error())
		return nil, errReported
	}
	return cfg, err
}

// newLogger writes JSON lines, or readable lines when w is a terminal.
func newLogger(w io.Writer) zerolog.Logger {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			w = zerolog.ConsoleWriter{Out: f, TimeFormat: time.TimeOnly}
		}
	}
	return zerolog.New(w).With().Timestamp().Logger()
}

// serveOptions are what the console changes about serving: its clock, its logger, and hooks
// to watch the bot from the terminal client.
type serveOptions struct {
	Log   zerolog.Logger
	Clock clock.Clock
	// Started, if set, is called with the running parts once everything is wired.
	Started func(*app)
	// SocketOptions tune the Socket Mode client (tests use a short ping interval).
	SocketOptions []socketmode.Option
	// VendorTimeout bounds each call to a vendor's API (default 30 s; the fault tests shorten
	// it so that a vendor that never answers costs them seconds, not minutes).
	VendorTimeout time.Duration
	// StepHook is the runner's (set only by the chaos build, to crash at a step).
	StepHook func(run store.Run, step string, phase runner.StepPhase)
}

// app is the running bot: the parts the console and tests look at.
type app struct {
	Bot    *bot.Bot
	Runner *runner.Runner
	Store  store.Store
}

// Idle reports whether the bot has nothing to do until a person acts or a timer fires. Runs
// that poll an outside system (CI, a workflow run) within the next minute count as busy.
func (a *app) Idle(ctx context.Context) bool {
	return a.Bot.Idle(ctx) && a.Runner.Idle(ctx, time.Minute)
}

// serve wires opsbot from cfg and serves until ctx is cancelled.
func serve(ctx context.Context, cfg *config.Config, opts serveOptions) error {
	log, clk := opts.Log, opts.Clock
	replica := replicaName()
	log = log.With().Str("replica", replica).Logger()
	for _, in := range cfg.Integrations() {
		log.Info().Str("integration", in.Name).Str("state", string(in.State)).Str("detail", in.Reason).Msg("integration")
	}

	st, err := openStore(ctx, cfg, clk, log)
	if err != nil {
		return err
	}
	defer st.Close()

	vendorTimeout := opts.VendorTimeout
	if vendorTimeout == 0 {
		vendorTimeout = 30 * time.Second
	}
	httpClient := &http.Client{Timeout: vendorTimeout}
	slackOpts := []slack.Option{slack.OptionAppLevelToken(cfg.Env.SlackAppToken.Reveal()), slack.OptionHTTPClient(httpClient)}
	if cfg.Env.SlackAPIURL != "" {
		slackOpts = append(slackOpts, slack.OptionAPIURL(cfg.Env.SlackAPIURL))
	}
	api := slack.New(cfg.Env.SlackBotToken.Reveal(), slackOpts...)
	workspace := slackapi.New(api, clk, time.Minute)
	roles := access.New(cfg.Roles, workspace)

	// The runner is created once the workflows are known; the domains wake it through this.
	var rn *runner.Runner
	wake := func() {
		if rn != nil {
			rn.Nudge()
		}
	}
	workflows := map[store.RunKind]runner.Workflow{}
	var domains []commands.Domain
	unavailable := map[string]string{}
	if cfg.Env.GitHubToken.Empty() {
		for _, c := range []string{commands.Release, commands.Deploy, commands.Rollback} {
			unavailable[c] = c + " needs GitHub, which is not configured on this opsbot (set GITHUB_TOKEN)."
		}
	} else {
		owner, repo, _ := strings.Cut(cfg.GitHub.Repository, "/")
		ghc, err := github.New(github.Options{
			BaseURL: cfg.Env.GitHubAPIURL, Token: cfg.Env.GitHubToken, Owner: owner, Repo: repo,
			HTTPClient: httpClient, Log: log,
		})
		if err != nil {
			return fmt.Errorf("setting up GitHub: %w", err)
		}
		deployOpts := deploy.Options{
			Store: st, GitHub: ghc, Roles: roles, Modals: workspace, Config: cfg, Clock: clk, Log: log, Wake: wake,
			HTTP: httpClient,
		}
		if err := addVerifiers(ctx, cfg, &deployOpts); err != nil {
			return err
		}
		deploys, err := deploy.New(deployOpts)
		if err != nil {
			return err
		}
		maps.Copy(workflows, deploys.Workflows())
		domains = append(domains, commands.Deploys{Service: deploys})
	}
	incidents, err := newIncidents(cfg, st, workspace, roles, httpClient, clk, log, wake)
	if err != nil {
		return err
	}
	maps.Copy(workflows, incidents.Workflows())
	domains = append(domains, commands.Incidents{Service: incidents})
	rn, err = runner.New(runner.Options{
		Store: st, Clock: clk, Log: log, Replica: replica, Lease: cfg.Store.Lease.Std(), Workflows: workflows,
		StepHook: opts.StepHook,
	})
	if err != nil {
		return err
	}
	responder := slackapi.NewResponder(httpClient)
	svc, err := commands.NewService(commands.Options{
		Store: st, Roles: roles, Clock: clk, Log: log, Domains: domains, Unavailable: unavailable,
		Responder: responder,
	})
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b, err := bot.New(bot.Options{
		Slack: api, Store: st, Handler: svc, Clock: clk, Log: log, Replica: replica,
		Metrics: bot.NewMetrics(reg, st), SocketOptions: opts.SocketOptions, Running: runningHandlers(cfg),
		Outbox: bot.OutboxOptions{Responder: responder},
	})
	if err != nil {
		return err
	}

	var listener net.Listener
	if cfg.HTTP.Listen != "" {
		listener, err = net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("listening for health and metrics on %s: %w", cfg.HTTP.Listen, err)
		}
		log.Info().Str("addr", listener.Addr().String()).Msg("serving /healthz, /readyz and /metrics")
	}
	if opts.Started != nil {
		opts.Started(&app{Bot: b, Runner: rn, Store: st})
	}
	return runAll(ctx, log,
		func(ctx context.Context) error { return b.Run(ctx) },
		func(ctx context.Context) error { return rn.Run(ctx) },
		func(ctx context.Context) error { return serveHTTP(ctx, listener, b.HTTPHandler(reg)) },
	)
}

// addVerifiers gives the deploy domain the integrations post-deployment verification reads: AWS
// through the SDK's default configuration, and Sentry, New Relic and Pingdom when their tokens
// are set, over opts.HTTP. One that is absent stays nil, and its checks show as skipped.
func addVerifiers(ctx context.Context, cfg *config.Config, opts *deploy.Options) error {
	for _, in := range cfg.Integrations() {
		if in.State == config.Absent {
			continue
		}
		var err error
		switch in.Name {
		case "aws":
			var awsCfg sdkaws.Config
			if awsCfg, err = loadAWSConfig(ctx, in); err == nil {
				opts.AWS = opsaws.New(awsCfg)
			}
		case "sentry":
			var c *sentry.Client
			if c, err = sentry.New(in.Endpoint, cfg.Env.SentryToken.Reveal(), opts.HTTP); err == nil {
				opts.Sentry = c
			}
		case "newrelic":
			var c *newrelic.Client
			if c, err = newrelic.New(in.Endpoint, cfg.Env.NewRelicAPIKey.Reveal(), opts.HTTP); err == nil {
				opts.NewRelic = c
			}
		case "pingdom":
			var c *pingdom.Client
			if c, err = pingdom.New(in.Endpoint, cfg.Env.PingdomToken.Reveal(), opts.HTTP); err == nil {
				opts.Pingdom = c
			}
		}
		if err != nil {
			return fmt.Errorf("setting up %s: %w", in.Name, err)
		}
	}
	return nil
}

// loadAWSConfig is the AWS SDK's default configuration (credential chain, region, shared
// files), with AWS_ENDPOINT_URL as read by opsbot. The sandbox gets its own credentials and
// region, so that a real credential from the shell never reaches it.
func loadAWSConfig(ctx context.Context, in config.Integration) (sdkaws.Config, error) {
	var load []func(*awsconfig.LoadOptions) error
	if in.Endpoint != "" {
		load = append(load, awsconfig.WithBaseEndpoint(in.Endpoint))
	}
	if in.State == config.Sandboxed {
		load = append(load, awsconfig.WithRegion("us-east-1"),
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("sandbox", "sandbox", "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return sdkaws.Config{}, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	return awsCfg, nil
}

// newIncidents wires the incident domain: Slack always; PagerDuty and Statuspage when their
// credentials are set (otherwise their steps are skipped, saying so). Drills use only the
// sandbox's.
func newIncidents(cfg *config.Config, st store.Store, workspace *slackapi.Client, roles *access.Roles,
	httpClient *http.Client, clk clock.Clock, log zerolog.Logger, wake func()) (*incident.Service, error) {
	opts := incident.Options{
		Store: st, Slack: workspace, Roles: roles, Config: cfg, Clock: clk, Log: log, Wake: wake,
	}
	for _, in := range cfg.IncidentIntegrations() {
		log.Info().Str("integration", in.Name).Str("state", string(in.State)).Str("detail", in.Reason).Msg("integration")
		switch {
		case in.State == config.Absent:
		case in.Name == "pagerduty":
			pd, err := pagerduty.New(pagerduty.Config{
				APIURL: cfg.Env.PagerDutyAPIURL, EventsURL: cfg.Incidents.PagerDuty.EventsURL,
				Token: cfg.Env.PagerDutyToken.Reveal(), From: cfg.Incidents.PagerDuty.From, HTTPClient: httpClient,
			})
			if err != nil {
				return nil, fmt.Errorf("setting up PagerDuty: %w", err)
			}
			opts.PagerDuty, opts.SandboxPagerDuty = pd, in.State == config.Sandboxed
		case in.Name == "statuspage":
			sp, err := statuspage.New(statuspage.Config{
				BaseURL: cfg.Env.StatuspageAPIURL, APIKey: cfg.Env.StatuspageAPIKey.Reveal(),
				PageID: cfg.Incidents.Statuspage.PageID, HTTPClient: httpClient,
			})
			if err != nil {
				return nil, fmt.Errorf("setting up Statuspage: %w", err)
			}
			opts.Statuspage, opts.SandboxStatuspage = sp, in.State == config.Sandboxed
		}
	}
	return incident.New(opts)
}

// runningHandlers is how many deliveries the bot handles side by side. Each one ends in a
// write, and SQLite has one writer: a second handler only queued there, while it competed with
// the Socket Mode reader for the CPU and slowed the acks (BENCHMARKS.md, section 1). A delivery
// still waiting on a vendor after a moment hands the queue to another worker
// (bot.Options.HandOffAfter). PostgreSQL takes writes side by side, and its handlers wait on
// the network: it runs all of the bot's workers at once.
func runningHandlers(cfg *config.Config) int {
	if cfg.Store.Driver == "postgres" {
		return 0
	}
	return 1
}

func openStore(ctx context.Context, cfg *config.Config, clk clock.Clock, log zerolog.Logger) (*store.SQL, error) {
	sc := store.Config{Driver: store.SQLite, DSN: cfg.Store.Path, Clock: clk, Logger: log}
	if cfg.Store.Driver == "postgres" {
		sc = store.Config{Driver: store.Postgres, DSN: cfg.Env.DatabaseURL.Reveal(), Clock: clk, Logger: log}
	}
	st, err := store.Open(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("opening the %s store: %w", cfg.Store.Driver, err)
	}
	return st, nil
}

// runAll runs every part until ctx is cancelled or one of them fails; then it cancels the
// others and waits for them. It returns the first failure.
func runAll(ctx context.Context, log zerolog.Logger, parts ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, part := range parts {
		wg.Go(func() {
			if err := part(ctx); err != nil {
				once.Do(func() { first = err })
				log.Error().Err(err).Msg("stopping")
				cancel()
			}
		})
	}
	wg.Wait()
	return first
}

func serveHTTP(ctx context.Context, l net.Listener, h http.Handler) error {
	if l == nil {
		<-ctx.Done()
		return nil
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving health and metrics: %w", err)
	}
	return nil
}

// replicaName identifies this process in leases: host, pid and a random suffix, so a restarted
// process never mistakes its predecessor's leases for its own.
func replicaName() string {
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
