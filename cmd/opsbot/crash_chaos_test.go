//go:build chaos && !nosandbox

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// The crash matrix: for every step of a release, a deploy, a rollback and an incident, a real
// `opsbot serve` process (the chaos build) kills itself with SIGKILL right before the step's
// side effect and, in another run, right after it; a fresh process on the same SQLite file and
// the same sandbox finishes the run. Every effect must then exist exactly once.

// crashSteps are the steps of each kind of run, in order, and the end of the run: recorded,
// then told (the card's last update, an automatic rollback).
var crashSteps = []struct {
	kind  store.RunKind
	steps []string
}{
	{store.KindRelease, []string{"branch", "pull_request", "commits", runner.EndOfRun}},
	{store.KindDeploy, []string{"release_branch", "ci", "soak", "review", "checklist", "approval", "merge", "tag", "workflow",
		"verification", runner.EndOfRun}},
	{store.KindRollback, []string{"stable_tag", "workflow", "verification", runner.EndOfRun}},
	{store.KindIncident, []string{"channel", "members", "card", "announce", "page", "status_page", "stakeholders", "respond",
		"resolve_pagerduty", "resolve_status_page", "tell_resolved", "postmortem", runner.EndOfRun}},
}

// crashOutcome is one cell of the matrix.
type crashOutcome struct {
	crashed    bool
	state      store.RunState
	effects    string
	duplicates []string
	took       time.Duration
}

func TestCrashAtEveryStepLeavesEveryEffectOnce(t *testing.T) {
	bin := chaosBinary(t)
	var (
		mu      sync.Mutex
		results = map[string]crashOutcome{}
	)
	t.Run("matrix", func(t *testing.T) {
		for _, k := range crashSteps {
			t.Run(string(k.kind)+":no-crash", func(t *testing.T) {
				t.Parallel()
				out := crashScenario(t, bin, k.kind, "")
				mu.Lock()
				defer mu.Unlock()
				results[string(k.kind)] = out
			})
			for _, step := range k.steps {
				for _, phase := range []runner.StepPhase{runner.PhaseBefore, runner.PhaseAfter} {
					at := fmt.Sprintf("%s:%s:%s", k.kind, step, phase)
					t.Run(at, func(t *testing.T) {
						t.Parallel()
						out := crashScenario(t, bin, k.kind, at)
						mu.Lock()
						defer mu.Unlock()
						results[at] = out
					})
				}
			}
		}
	})

	var b strings.Builder
	fmt.Fprintf(&b, "\n%-9s %-20s %-7s %-8s %-9s %-11s %s\n", "kind", "step", "phase", "crashed", "run", "duplicates", "effects (took)")
	for _, k := range crashSteps {
		if out, ok := results[string(k.kind)]; ok {
			fmt.Fprintf(&b, "%-9s %-20s %-7s %-8t %-9s %-11s %s (%s)\n", k.kind, "(no crash)", "-", out.crashed, out.state, "none",
				out.effects, out.took.Round(100*time.Millisecond))
		}
		for _, step := range k.steps {
			for _, phase := range []runner.StepPhase{runner.PhaseBefore, runner.PhaseAfter} {
				out, ok := results[fmt.Sprintf("%s:%s:%s", k.kind, step, phase)]
				if !ok {
					continue // not run (-run) or failed: its failure says why
				}
				dups := "none"
				if len(out.duplicates) > 0 {
					dups = strings.Join(out.duplicates, "; ")
				}
				fmt.Fprintf(&b, "%-9s %-20s %-7s %-8t %-9s %-11s %s (%s)\n", k.kind, step, phase, out.crashed, out.state, dups,
					out.effects, out.took.Round(100*time.Millisecond))
			}
		}
	}
	t.Logf("crash matrix (%d crash points):%s", len(results), b.String())
}

// crashScenario drives one run of kind with the bot crashing at `at`, and checks its effects.
func crashScenario(t *testing.T, bin string, kind store.RunKind, at string) crashOutcome {
	started := time.Now()
	w := newCrashWorld(t, bin)
	if at == "" {
		w.startBot()
	} else {
		w.startBot("--crash-at", at)
	}
	out := crashOutcome{}
	switch kind {
	case store.KindRelease:
		w.release("v1.0.0")
		out.state = w.finalRun(store.KindRelease, "Release v1.0.0").State
		out.effects = w.releaseEffects(t, "v1.0.0")
	case store.KindDeploy:
		out.state = w.deploy("v1.0.0").State
		out.effects = w.deployEffects(t, "v1.0.0", 1)
	case store.KindRollback:
		w.deploy("v1.0.0")
		w.deploy("v1.1.0")
		out.state = w.rollBack("production").State
		out.effects = w.rollbackEffects(t, "v1.0.0")
	case store.KindIncident:
		out.state = w.incident("Checkout errors").State
		out.effects = w.incidentEffects(t, "SEV1 · Checkout errors")
	}
	out.crashed = w.crashed()
	out.duplicates = repeatedPosts(w.sb, w.channels()...)
	out.took = time.Since(started)
	if os.Getenv("CHAOS_DEBUG") != "" {
		runs, _ := w.st.ListRuns(context.Background(), store.RunQuery{})
		for _, r := range runs {
			for _, s := range r.Steps {
				if s.StartedAt != nil && s.FinishedAt != nil {
					t.Logf("%s %s: %s +%s %s", r.Title, s.Name, s.StartedAt.Sub(started).Round(time.Millisecond), s.FinishedAt.Sub(*s.StartedAt).Round(time.Millisecond), s.Detail)
				}
			}
		}
	}

	require.Equal(t, at != "", out.crashed, "the bot crashes exactly when asked to (at %q)", at)
	require.Equal(t, store.RunSucceeded, out.state, "the run finishes after the crash")
	require.Empty(t, out.duplicates, "no message is posted twice")
	return out
}

// crashWorld is a sandbox, a SQLite file and the opsbot processes serving them one after the
// other: the first may crash on purpose; the next one starts then.
type crashWorld struct {
	t       *testing.T
	sb      *sandbox.Sandbox
	st      store.Store
	bin     string
	cfgPath string
	dir     string

	mu       sync.Mutex
	procs    []*botProc
	crash    bool
	stopping bool
	created  int // channels created in the workspace
}

func newCrashWorld(t *testing.T, bin string) *crashWorld {
	specs, _ := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	sb, err := sandbox.Start(sandbox.Options{
		Clock: clock.Real{}, SpecsDir: specs, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		GitHub: fakegithub.Options{
			Reviewer: "erin", Teammate: true,
			Workflow: fakegithub.Workflow{QueueTime: 300 * time.Millisecond, RunTime: 700 * time.Millisecond},
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { sb.Close() })
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "opsbot.db")
	cfgPath := filepath.Join(dir, "opsbot.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fastDeploys(t, sb.Config(dbPath))), 0o600))
	st, err := store.Open(context.Background(), store.Config{Driver: store.SQLite, DSN: dbPath, Logger: zerolog.Nop()})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	w := &crashWorld{t: t, sb: sb, st: st, bin: bin, cfgPath: cfgPath, dir: dir}
	t.Cleanup(w.stopAll)

	ctx, stopWatching := context.WithCancel(context.Background())
	changes := sb.Slack.Subscribe(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for c := range changes {
			if c.Kind == fakeslack.ChannelCreated {
				w.mu.Lock()
				w.created++
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { stopWatching(); <-watched })
	return w
}

// channelsCreated counts the channels created so far.
func (w *crashWorld) channelsCreated() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.created
}

// startBot starts `opsbot serve` with args. When it dies of SIGKILL (the crash asked for), the
// next process starts without them.
func (w *crashWorld) startBot(args ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopping {
		return
	}
	p, err := startBotProc(w.bin, w.cfgPath, args...)
	if err != nil {
		w.t.Errorf("starting opsbot: %v", err) // may be the restart, on another goroutine
		return
	}
	w.procs = append(w.procs, p)
	go func() {
		<-p.done
		var exit *exec.ExitError
		if !errors.As(p.err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			return // stopped by the test
		}
		w.mu.Lock()
		first := !w.crash
		w.crash = true
		w.mu.Unlock()
		if first {
			w.startBot()
		}
	}()
}

func (w *crashWorld) crashed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.crash
}

func (w *crashWorld) stopAll() {
	w.mu.Lock()
	w.stopping = true
	procs := slices.Clone(w.procs)
	w.mu.Unlock()
	for i, p := range procs {
		p.stop()
		if w.t.Failed() {
			w.t.Logf("opsbot process %d log:\n%s", i, p.log.String())
		}
	}
}

// channels are the channels the bot posts in, incident channels included.
func (w *crashWorld) channels() []string {
	chans := []string{fakeslack.Deploys, fakeslack.Incidents, fakeslack.Stakeholders}
	runs, err := w.st.ListRuns(context.Background(), store.RunQuery{Kinds: []store.RunKind{store.KindIncident}})
	require.NoError(w.t, err)
	for _, r := range runs {
		if r.Channel != "" {
			chans = append(chans, r.Channel)
		}
	}
	return chans
}

// until polls cond, doing act between looks, until cond holds.
func (w *crashWorld) until(what string, cond func() bool, act func()) {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			var seen strings.Builder
			for _, m := range w.sb.Slack.Messages(fakeslack.Deploys) {
				fmt.Fprintf(&seen, "  [%s for=%s thread=%s] %.300s\n", m.TS, m.For, m.ThreadTS, m.Text)
			}
			runs, _ := w.st.ListRuns(context.Background(), store.RunQuery{})
			for _, r := range runs {
				fmt.Fprintf(&seen, "  run %d %s %s:", r.ID, r.Title, r.State)
				for _, s := range r.Steps {
					fmt.Fprintf(&seen, " %s=%s(%.80s)", s.Name, s.State, s.Detail)
				}
				seen.WriteString("\n")
			}
			if os.Getenv("CHAOS_DEBUG") != "" {
				w.mu.Lock()
				for _, p := range w.procs {
					_ = p.cmd.Process.Signal(syscall.SIGQUIT)
				}
				w.mu.Unlock()
				time.Sleep(time.Second)
			}
			w.t.Fatalf("gave up waiting: %s\n#deploys and runs:\n%s", what, seen.String())
		}
		if act != nil {
			act()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// slash sends a command until the bot acknowledges it (it may be restarting).
func (w *crashWorld) slash(user, channel, command, text string) {
	w.t.Helper()
	w.until(command+" "+text+" acknowledged", func() bool {
		d, err := w.sb.Slack.SlashCommand(context.Background(), user, channel, command, text)
		return err == nil && d.Acked
	}, nil)
}

// run is the newest run of kind titled title, if any.
func (w *crashWorld) run(kind store.RunKind, title string) (store.Run, bool) {
	runs, err := w.st.ListRuns(context.Background(), store.RunQuery{Kinds: []store.RunKind{kind}})
	require.NoError(w.t, err)
	for _, r := range runs {
		if r.Title == title {
			return r, true
		}
	}
	return store.Run{}, false
}

func (w *crashWorld) stepIs(kind store.RunKind, title, step string, states ...store.StepState) bool {
	r, ok := w.run(kind, title)
	if !ok {
		return false
	}
	s := r.StepByName(step)
	return s != nil && slices.Contains(states, s.State)
}

// finalRun waits for the run to end, and for its end to be told (the card's last update):
// the end is recorded first, so a process that died in between leaves it to the next one.
func (w *crashWorld) finalRun(kind store.RunKind, title string) store.Run {
	w.t.Helper()
	var run store.Run
	w.until(title+" ends and its end is told", func() bool {
		r, ok := w.run(kind, title)
		run = r
		return ok && r.State.Final() && r.WakeAt == nil
	}, nil)
	return run
}

func (w *crashWorld) release(version string) {
	w.slash(fakeslack.Alice, fakeslack.Deploys, "/release", version)
	w.finalRun(store.KindRelease, "Release "+version)
}

// deploy releases version and deploys it to production, ticking the checklist and approving
// as bob, and returns the finished run.
func (w *crashWorld) deploy(version string) store.Run {
	w.t.Helper()
	w.release(version)
	title := "Deploy " + version + " → production"
	w.slash(fakeslack.Alice, fakeslack.Deploys, "/deploy", version)
	ctx := context.Background()
	w.until(title+": checklist ticked", func() bool {
		return w.stepIs(store.KindDeploy, title, "checklist", store.StepPassed)
	}, func() {
		if w.stepIs(store.KindDeploy, title, "checklist", store.StepWaiting) {
			_, _ = w.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Mark done")
		}
	})
	w.until(title+": approved", func() bool {
		return w.stepIs(store.KindDeploy, title, "approval", store.StepPassed)
	}, func() {
		if !w.stepIs(store.KindDeploy, title, "approval", store.StepWaiting) {
			return
		}
		// Approve opens Slack's confirmation dialog; its button sends the click. A dialog still
		// open from an earlier try is answered, or closed when it is another version's.
		if _, err := w.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Approve "+version); err == nil {
			return
		}
		_, _ = w.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Not yet")
		if d, err := w.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Approve"); err == nil && d.AwaitingConfirm {
			_, _ = w.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Approve "+version)
		}
	})
	return w.finalRun(store.KindDeploy, title)
}

// rollBack rolls env back to its last stable version as alice and returns the finished run.
func (w *crashWorld) rollBack(env string) store.Run {
	w.t.Helper()
	ctx := context.Background()
	w.slash(fakeslack.Alice, fakeslack.Deploys, "/rollback", env)
	var title string
	w.until("a rollback run starts", func() bool {
		runs, err := w.st.ListRuns(ctx, store.RunQuery{Kinds: []store.RunKind{store.KindRollback}})
		if err != nil || len(runs) == 0 {
			return false
		}
		title = runs[0].Title
		return true
	}, func() { _, _ = w.sb.Slack.Click(ctx, fakeslack.Alice, fakeslack.Deploys, "Confirm") })
	return w.finalRun(store.KindRollback, title)
}

// incident declares a SEV1 as carol, waits for the response, resolves it, and returns the
// finished run.
func (w *crashWorld) incident(title string) store.Run {
	w.t.Helper()
	w.slash(fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev1 "+title)
	name := "SEV1 · " + title
	var run store.Run
	w.until("the incident is declared", func() bool {
		r, ok := w.run(store.KindIncident, name)
		run = r
		return ok && r.StepByName("respond").State == store.StepWaiting
	}, nil)
	var resolvedAt time.Time
	w.until("the incident is resolved", func() bool {
		r, _ := w.run(store.KindIncident, name)
		return r.StepByName("respond").State == store.StepPassed
	}, func() {
		// A resolve the bot took but never carried out (it died holding it) is asked again,
		// as a person would after a while.
		if time.Since(resolvedAt) > 10*time.Second {
			w.slash(fakeslack.Carol, run.Channel, "/incident", "resolve Rolled back")
			resolvedAt = time.Now()
		}
	})
	return w.finalRun(store.KindIncident, name)
}

// drained waits until the bot has said all it meant to (its outbox has nothing pending): a
// message a dead process had claimed is sent once its lease ran out.
func (w *crashWorld) drained() {
	w.t.Helper()
	w.until("the outbox drains", func() bool {
		pending, _, err := w.st.OutboxStats(context.Background())
		return err == nil && pending == 0
	}, nil)
}

func (w *crashWorld) releaseEffects(t *testing.T, version string) string {
	w.drained()
	branch := "release/" + version
	_, ok := w.sb.GitHub.Branch(branch)
	require.True(t, ok, "the release branch exists")
	prs := 0
	for _, pr := range w.sb.GitHub.PullRequests() {
		if pr.Head == branch {
			prs++
		}
	}
	require.Equal(t, 1, prs, "exactly one release pull request")
	cards := len(botPosts(w.sb, fakeslack.Deploys, "Release "+version))
	require.Equal(t, 1, cards, "exactly one release card")
	return fmt.Sprintf("branch 1, PR %d, card %d", prs, cards)
}

// deployEffects checks that deploying version left one merge of its own (of merges in all),
// one tag, release, workflow run and deployment, whose statuses ran once to success.
func (w *crashWorld) deployEffects(t *testing.T, version string, merges int) string {
	w.drained()
	e := githubEffects(w.sb, version, "production")
	require.Equal(t, merges, e.merges, "merges")
	require.Equal(t, 1, e.tags, "one tag %s", version)
	require.Equal(t, 1, e.releases, "one release %s", version)
	require.Equal(t, 1, e.workflowRuns, "one workflow run for %s", version)
	require.Len(t, e.statuses, 1, "one deployment of %s", version)
	requireStatusSequence(t, e.statuses[0])
	cards := botPosts(w.sb, fakeslack.Deploys, "Deploy "+version+" → production")
	require.Len(t, cards, 1, "exactly one deploy card")
	require.Contains(t, fakeslack.Shown(cards[0].Text, cards[0].Blocks), version+" is deployed to production", "the card tells of the end")
	return fmt.Sprintf("merge %d, tag %d, release %d, workflow run %d, statuses %s, card 1 (deployed)",
		e.merges, e.tags, e.releases, e.workflowRuns, strings.Join(e.statuses[0], "→"))
}

// rollbackEffects checks that rolling back to version dispatched its workflow once more and
// recorded one more deployment of it, successful.
func (w *crashWorld) rollbackEffects(t *testing.T, version string) string {
	w.drained()
	e := githubEffects(w.sb, version, "production")
	require.Equal(t, 2, e.merges, "no merge beyond the two deploys'")
	require.Equal(t, 1, e.tags, "the tag is not made again")
	require.Equal(t, 2, e.workflowRuns, "the deploy's run and the rollback's dispatch")
	require.Len(t, e.statuses, 2, "the deploy's deployment and the rollback's")
	requireStatusSequence(t, e.statuses[1])
	cards := botPosts(w.sb, fakeslack.Deploys, "Roll back production → "+version)
	require.Len(t, cards, 1, "exactly one rollback card")
	require.Contains(t, fakeslack.Shown(cards[0].Text, cards[0].Blocks), "production is back on "+version, "the card tells of the end")
	return fmt.Sprintf("dispatch %d, deployment %d, statuses %s, card 1 (back on %s)",
		e.workflowRuns-1, len(e.statuses)-1, strings.Join(e.statuses[1], "→"), version)
}

// requireStatusSequence checks a deployment's statuses: no state twice in a row, ending in
// success.
func requireStatusSequence(t *testing.T, states []string) {
	t.Helper()
	require.NotEmpty(t, states)
	require.Equal(t, "success", states[len(states)-1], "the deployment ends successful: %v", states)
	for i := 1; i < len(states); i++ {
		require.NotEqual(t, states[i-1], states[i], "a deployment status was set twice: %v", states)
	}
}

func (w *crashWorld) incidentEffects(t *testing.T, name string) string {
	w.drained()
	requireOneResolvedVendorIncident(t, w.sb)
	run, _ := w.run(store.KindIncident, name)
	channels := w.channelsCreated()
	require.Equal(t, 1, channels, "exactly one incident channel")
	announcements := len(botPosts(w.sb, fakeslack.Incidents, name))
	require.Equal(t, 1, announcements, "exactly one announcement in #incidents")
	pins := len(w.sb.Slack.Pins(run.Channel))
	require.Equal(t, 2, pins, "the summary card and the checklist, pinned once each")
	posts := botPosts(w.sb, fakeslack.Stakeholders, name)
	stakeholders := len(posts)
	require.Equal(t, 2, stakeholders, "the stakeholders hear of the declaration and the resolution once each: %+v", posts)
	return fmt.Sprintf("channel %d, PagerDuty 1, status page 1, announcement %d, pins %d, stakeholder posts %d",
		channels, announcements, pins, stakeholders)
}

// botProc is one `opsbot serve` process; its output is kept in memory (a pipe, not a file).
type botProc struct {
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
	err  error // how it exited, once done is closed
}

func startBotProc(bin, cfgPath string, args ...string) (*botProc, error) {
	p := &botProc{log: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve", "--config", cfgPath}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop ends the process with SIGTERM (a no-op if it already ended) and waits for it.
func (p *botProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
}

var (
	chaosBuildOnce sync.Once
	chaosBin       string
	chaosBuildErr  error
)

// chaosBinary builds cmd/opsbot with the chaos tag (its --crash-at flag) once per test process.
func chaosBinary(t *testing.T) string {
	t.Helper()
	chaosBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "opsbot-chaos-bin-")
		if err != nil {
			chaosBuildErr = err
			return
		}
		chaosBin = filepath.Join(dir, "opsbot")
		out, err := exec.Command("go", "build", "-tags", "chaos", "-o", chaosBin, ".").CombinedOutput()
		if err != nil {
			chaosBuildErr = fmt.Errorf("go build -tags chaos: %v\n%s", err, out)
		}
	})
	require.NoError(t, chaosBuildErr)
	return chaosBin
}
