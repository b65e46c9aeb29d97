//go:build !nosandbox

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/console"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

// sandboxFlags are the flags `console` and `sandbox` share.
type sandboxFlags struct {
	specs string
}

func (f *sandboxFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.specs, "specs", "", "folder of the vendors' API descriptions to check requests against (default: $OPSBOT_SPECS_DIR, else ../shared/specs if present; \"off\" to skip)")
}

// specsDir finds the API descriptions, or "" to run without them.
func (f *sandboxFlags) specsDir(env environment) string {
	if f.specs == "off" {
		return ""
	}
	fromEnv := f.specs
	if fromEnv == "" {
		fromEnv = env.getenv("OPSBOT_SPECS_DIR")
	}
	dir, err := apispec.Find(fromEnv)
	if err != nil {
		return ""
	}
	return dir
}

// startSandbox starts the fakes. The console's workflow runs take seconds, not minutes, so a
// deploy can be watched to the end.
func startSandbox(env environment, f sandboxFlags, clk clock.Clock, log zerolog.Logger) (*sandbox.Sandbox, error) {
	return sandbox.Start(sandbox.Options{
		Clock: clk, SpecsDir: f.specsDir(env), Logger: log,
		GitHub: fakegithub.Options{
			Workflow: fakegithub.Workflow{QueueTime: 2 * time.Second, RunTime: 6 * time.Second},
			Reviewer: "erin", Teammate: true,
		},
	})
}

// runConsole is the README's first command: the sandbox, the bot's real serve path connected
// to it over Socket Mode, and a terminal client of the sandbox workspace, in one process.
func runConsole(ctx context.Context, env environment, args []string) error {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var sf sandboxFlags
	sf.register(fs)
	logPath := fs.String("log", "", "write the bot's log here (default: a file in the session's temporary folder, removed at the end)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	dir, err := os.MkdirTemp("", "opsbot-console-")
	if err != nil {
		return fmt.Errorf("making the console's folder: %w", err)
	}
	defer os.RemoveAll(dir)
	if *logPath == "" {
		*logPath = filepath.Join(dir, "opsbot.log")
	}
	logFile, err := os.Create(*logPath)
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	defer logFile.Close()

	r, err := startRig(ctx, env, sf, dir, zerolog.New(logFile).With().Timestamp().Logger())
	if err != nil {
		return err
	}
	runErr := console.Run(ctx, console.Options{In: env.stdin, Out: env.stdout, Sandbox: r.sb, Clock: r.clk, Idle: r.app.Idle})
	if err := r.stop(); err != nil {
		return fmt.Errorf("%w (log: %s)", err, *logPath)
	}
	return runErr
}

// rig is the sandbox with the bot serving it, as the console runs them.
type rig struct {
	sb  *sandbox.Sandbox
	clk *clock.Offset
	app *app
	cfg *config.Config
	// stop stops the bot, then the sandbox, and reports how the bot ended.
	stop func() error
}

// startRig starts the sandbox and the bot's serve path against it, and waits until the bot
// is connected over Socket Mode. dir holds the store.
func startRig(ctx context.Context, env environment, sf sandboxFlags, dir string, log zerolog.Logger) (*rig, error) {
	clk := clock.NewOffset()
	sb, err := startSandbox(env, sf, clk, log)
	if err != nil {
		return nil, err
	}
	// The sandbox's configuration, with no environment: a real token in the shell must never
	// reach the sandbox, nor a sandbox one a vendor.
	cfg, err := config.Parse("sandbox opsbot.yaml", []byte(sb.Config(filepath.Join(dir, "opsbot.db"))), nil)
	if err != nil {
		sb.Close()
		return nil, fmt.Errorf("the sandbox's configuration is invalid: %w", err)
	}
	serveCtx, stopServing := context.WithCancel(ctx)
	started := make(chan *app, 1)
	served := make(chan error, 1)
	go func() {
		served <- serve(serveCtx, cfg, serveOptions{Log: log, Clock: clk, Started: func(a *app) { started <- a }})
	}()
	fail := func(err error) (*rig, error) {
		stopServing()
		sb.Close()
		return nil, err
	}
	var a *app
	select {
	case a = <-started:
	case err := <-served:
		return fail(fmt.Errorf("starting the bot: %w", err))
	}
	if err := waitConnected(ctx, a, served); err != nil {
		return fail(err)
	}
	return &rig{sb: sb, clk: clk, app: a, cfg: cfg, stop: func() error {
		stopServing()
		err := <-served
		sb.Close()
		if err != nil {
			return fmt.Errorf("the bot stopped: %w", err)
		}
		return nil
	}}, nil
}

func waitConnected(ctx context.Context, a *app, served <-chan error) error {
	deadline := time.After(30 * time.Second)
	for !a.Bot.Connected() {
		select {
		case err := <-served:
			return fmt.Errorf("the bot stopped before connecting: %w", err)
		case <-deadline:
			return errors.New("the bot did not connect to the sandbox Slack within 30s")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// runSandbox starts only the fakes, prints "VENDOR BASE_URL" per vendor and then "ready", and
// runs until killed.
func runSandbox(ctx context.Context, env environment, args []string) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var sf sandboxFlags
	sf.register(fs)
	configOut := fs.String("config-out", "", "also write an opsbot.yaml wired to the sandbox here")
	storePath := fs.String("store", "./opsbot-sandbox.db", "the SQLite file the written opsbot.yaml uses")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	log := newLogger(env.stderr)
	sb, err := startSandbox(env, sf, clock.Real{}, log)
	if err != nil {
		return err
	}
	defer sb.Close()
	if !sb.Validating() {
		log.Warn().Msg("no API descriptions found (--specs, OPSBOT_SPECS_DIR or ../shared/specs): requests are not checked against them, and there is no AWS")
	}
	for _, ep := range sb.Endpoints() {
		fmt.Fprintf(env.stdout, "%s %s\n", ep.Vendor, ep.URL)
	}
	if *configOut != "" {
		if err := os.WriteFile(*configOut, []byte(sb.Config(*storePath)), 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", *configOut, err)
		}
	}
	fmt.Fprintln(env.stdout, "ready")
	if f, ok := env.stdout.(interface{ Sync() error }); ok {
		_ = f.Sync()
	}
	<-ctx.Done()
	return nil
}
