//go:build !nosandbox

package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// runBenchStartup times opsbot's start and reads its memory: idle on an empty store, then on a
// store holding a history of finished runs and the runs a crashed replica left in flight —
// killed (SIGKILL) in the middle of their first GitHub call — which the next start resumes.
func runBenchStartup(ctx context.Context, env environment, args []string) error {
	fs := flag.NewFlagSet("bench startup", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var bf benchFlags
	bf.register(fs)
	starts := fs.Int("starts", 5, "idle starts to time")
	history := fs.Int("runs", 10_000, "finished runs in the store")
	inflight := fs.Int("inflight", 100, "runs in flight when the previous replica died")
	settle := fs.Duration("settle", 5*time.Second, "how long after connecting (or finishing) the memory is read")
	lease := fs.Duration("lease", 30*time.Second, "store.lease: how long the crashed replica's runs stay its own")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *starts <= 0 || *history < 0 || *inflight <= 0 {
		return usageError{"--starts and --inflight must be positive, --runs not negative"}
	}
	b, err := newBench(env, bf)
	if err != nil {
		return err
	}
	defer b.close()
	sb, err := b.startSandbox(nil)
	if err != nil {
		return err
	}
	defer sb.Close()
	fmt.Fprintf(env.stdout, "machine: %s\n\n", machine())

	var connects []time.Duration
	var idle []memoryUse
	for i := range *starts {
		proc, err := b.startOpsbot(fmt.Sprintf("idle-%d", i), sb.Config(filepath.Join(b.dir, fmt.Sprintf("idle-%d.db", i))))
		if err != nil {
			return err
		}
		connected, err := awaitSocket(ctx, sb.Slack, proc, 30*time.Second)
		if err == nil {
			err = pause(ctx, *settle)
		}
		rss, merr := proc.memory()
		if err := errors.Join(err, merr, proc.stop(30*time.Second), awaitNoSocket(ctx, sb.Slack)); err != nil {
			return err
		}
		connects, idle = append(connects, connected), append(idle, rss)
	}
	slices.Sort(connects)
	slices.SortFunc(idle, func(a, b memoryUse) int { return cmp.Compare(a.rss, b.rss) })
	fmt.Fprintf(env.stdout, "empty store, %d starts (min / median / max):\n", *starts)
	fmt.Fprintf(env.stdout, "  start → Socket Mode connected: %s / %s / %s (goal ≤ 300 ms)\n",
		ms(connects[0]), ms(connects[len(connects)/2]), ms(connects[len(connects)-1]))
	fmt.Fprintf(env.stdout, "  RSS idle %v after connecting:  %s / %s / %s (goal ≤ 30 MB)\n",
		*settle, mb(idle[0].rss), mb(idle[len(idle)/2].rss), mb(idle[len(idle)-1].rss))
	fmt.Fprintf(env.stdout, "  the median one:                  %s\n\n", idle[len(idle)/2])

	return b.resumeAfterCrash(ctx, sb, crashRig{history: *history, inflight: *inflight, settle: *settle, lease: *lease})
}

// crashRig is what resumeAfterCrash sets up.
type crashRig struct {
	history, inflight int
	settle, lease     time.Duration
}

// resumeAfterCrash fills a store with history, lets a first replica start in-flight releases
// and kills it while their first GitHub call hangs, then times a second replica resuming them.
func (b *bench) resumeAfterCrash(ctx context.Context, sb *sandbox.Sandbox, rig crashRig) error {
	out := b.env.stdout
	history, inflight, settle := rig.history, rig.inflight, rig.settle
	path := filepath.Join(b.dir, "loaded.db")
	st, err := store.Open(ctx, store.Config{Driver: store.SQLite, DSN: path, Clock: clock.Real{}, Logger: zerolog.Nop()})
	if err != nil {
		return fmt.Errorf("opening the benchmark's store: %w", err)
	}
	defer st.Close()
	seeded := time.Now()
	if err := seedHistory(ctx, st, history); err != nil {
		return err
	}
	fmt.Fprintf(out, "store: %d finished runs written in %v\n", history, time.Since(seeded).Round(time.Second))

	gate, err := startGitHubGate(sb.GitHub.BaseURL())
	if err != nil {
		return err
	}
	defer gate.close()
	config := strings.ReplaceAll(sb.Config(path), sb.GitHub.BaseURL(), gate.url)
	config = strings.Replace(config, "  driver: sqlite\n", fmt.Sprintf("  driver: sqlite\n  lease: %s\n", rig.lease), 1)

	crashed, err := b.startOpsbot("crashed", config)
	if err != nil {
		return err
	}
	defer crashed.kill()
	if _, err := awaitSocket(ctx, sb.Slack, crashed, 30*time.Second); err != nil {
		return err
	}
	started := time.Now()
	for i := range inflight {
		if _, err := sb.Slack.SlashCommand(ctx, fakeslack.Alice, fakeslack.Deploys, "/release", fmt.Sprintf("v1.%d.0", i+1)); err != nil {
			return fmt.Errorf("starting release %d: %w", i+1, err)
		}
	}
	releases := store.RunQuery{Kinds: []store.RunKind{store.KindRelease}, Since: started, Limit: inflight + 1}
	err = poll(ctx, 2*time.Minute, func() (bool, error) {
		runs, err := st.ListRuns(ctx, releases)
		return len(runs) == inflight, err
	})
	if err != nil {
		return fmt.Errorf("waiting for %d releases to start (log: %s): %w", inflight, crashed.log, err)
	}
	crashed.kill()
	if err := awaitNoSocket(ctx, sb.Slack); err != nil {
		return err
	}
	// The dead replica's leases must run out before anyone may take its runs over; that wait
	// is the lease (store.lease), not the start-up, so it is not timed.
	runs, err := st.ListRuns(ctx, releases)
	if err != nil {
		return fmt.Errorf("reading the releases in flight: %w", err)
	}
	leased, expiry := 0, time.Now()
	for _, r := range runs {
		if r.LeaseUntil != nil {
			leased++
			expiry = later(expiry, *r.LeaseUntil)
		}
	}
	fmt.Fprintf(out, "crash: SIGKILL with %d releases in flight, %d of them mid-step (leased); waiting %v for the leases to expire\n",
		inflight, leased, time.Until(expiry).Round(time.Second))
	if err := pause(ctx, time.Until(expiry)+100*time.Millisecond); err != nil {
		return err
	}
	gate.openUp()

	resumed, err := b.startOpsbot("resumed", config)
	if err != nil {
		return err
	}
	defer resumed.stop(30 * time.Second)
	connected, err := awaitSocket(ctx, sb.Slack, resumed, 30*time.Second)
	if err != nil {
		return err
	}
	rss := rssSampler{proc: resumed}
	var firstDone, allDone time.Duration
	err = poll(ctx, 5*time.Minute, func() (bool, error) {
		rss.sample()
		runs, err := st.ListRuns(ctx, releases)
		done := 0
		for _, r := range runs {
			if r.State.Final() {
				done++
			}
		}
		if done > 0 && firstDone == 0 {
			firstDone = time.Since(resumed.started)
		}
		allDone = time.Since(resumed.started)
		return done == inflight, err
	})
	if err != nil {
		return fmt.Errorf("waiting for the releases to finish (log: %s): %w", resumed.log, err)
	}
	if err := pause(ctx, settle); err != nil {
		return err
	}
	after, err := resumed.memory()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restart on %d stored runs with %d in flight:\n", history+inflight, inflight)
	fmt.Fprintf(out, "  start → Socket Mode connected:        %s (goal ≤ 300 ms)\n", ms(connected))
	fmt.Fprintf(out, "  start → first resumed release done:    %s\n", ms(firstDone))
	fmt.Fprintf(out, "  start → all %d resumed releases done: %s (each: cut the branch, open the pull request, list the commits)\n", inflight, ms(allDone))
	fmt.Fprintf(out, "  RSS while resuming (max sampled):      %s (goal ≤ 60 MB)\n", mb(rss.max))
	fmt.Fprintf(out, "  RSS %v after the last finished:       %s; peak (VmHWM) %s\n", settle, after, mb(after.peak))
	return nil
}

// seedHistory writes n finished runs — deploys to three environments, releases, rollbacks and
// incidents, ten steps each — through the store, as opsbot would have left them.
func seedHistory(ctx context.Context, st store.Store, n int) error {
	kinds := []store.RunKind{store.KindDeploy, store.KindDeploy, store.KindDeploy, store.KindDeploy,
		store.KindRelease, store.KindRelease, store.KindRollback, store.KindIncident, store.KindIncident, store.KindIncident}
	envs := []string{"production", "staging", "development"}
	for i := range n {
		kind, env := kinds[i%len(kinds)], ""
		if kind == store.KindDeploy || kind == store.KindRollback {
			env = envs[i%len(envs)]
		}
		version := fmt.Sprintf("v0.%d.%d", i/100, i%100)
		data, err := json.Marshal(map[string]string{"version": version, "env": env, "branch": "release/" + version})
		if err != nil {
			return err
		}
		steps := make([]store.Step, 10)
		for s := range steps {
			steps[s] = store.Step{Name: fmt.Sprintf("step-%d", s), State: store.StepPassed, Detail: "done in 3 min"}
		}
		run, err := st.CreateRun(ctx, store.Run{
			Kind: kind, Env: env, State: store.RunWaiting, RequestedBy: fakeslack.Alice, Channel: fakeslack.Deploys,
			Title: fmt.Sprintf("%s %s", kind, version), Data: data, Steps: steps,
		})
		if err == nil {
			_, err = st.UpdateRun(ctx, run.ID, func(r *store.Run) error {
				r.State = store.RunSucceeded
				return nil
			})
		}
		if err != nil {
			return fmt.Errorf("writing finished run %d: %w", i+1, err)
		}
	}
	return nil
}

// githubGate stands between opsbot and the sandbox GitHub. Until it is opened it holds every
// request but the tag list (which /release reads before it creates its run), so that runs
// stop in the middle of their first step.
type githubGate struct {
	url    string
	srv    *http.Server
	served chan struct{}
	open   chan struct{}
	once   sync.Once
}

func startGitHubGate(base string) (*githubGate, error) {
	target, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("reading the sandbox GitHub's URL: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the GitHub gate: %w", err)
	}
	g := &githubGate{url: "http://" + l.Addr().String() + target.Path, served: make(chan struct{}), open: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	// The crashed replica's requests are cut short on purpose; that is not worth a log line.
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	g.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/tags") {
			select {
			case <-g.open:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() {
		defer close(g.served)
		_ = g.srv.Serve(l)
	}()
	return g, nil
}

func (g *githubGate) openUp() { g.once.Do(func() { close(g.open) }) }

func (g *githubGate) close() {
	g.openUp()
	_ = g.srv.Close()
	<-g.served
}

// awaitNoSocket waits until the sandbox Slack has noticed that the bot's connection is gone.
func awaitNoSocket(ctx context.Context, slack *fakeslack.Server) error {
	return poll(ctx, 30*time.Second, func() (bool, error) { return slack.Connections() == 0, nil })
}

// poll calls done every 20 ms until it reports true, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("not done within %v", timeout)
		}
		if err := pause(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// pause waits d, or less if ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
