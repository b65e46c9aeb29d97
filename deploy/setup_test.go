package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/deploy"
	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakemonitoring"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// The people in these tests.
const (
	alice = "U0ALICE" // deployer: starts releases and deploys
	bob   = "U0BOB"   // product owner: approves production deploys
	carol = "U0CAROL" // both, so she could approve her own deploy
	dave  = "U0DAVE"  // neither
)

const (
	version = "v1.0.0"
	branch  = "release/v1.0.0"
)

// testConfig is a small opsbot.yaml: production has every gate, staging none of the human ones.
// The verb %s takes production's post-deployment settings (verification, auto_rollback).
const testConfig = `
slack:
  deploys_channel: C0DEPLOYS
roles:
  deployer:
    users: [U0ALICE]
  product_owner:
    users: [U0BOB]
  on_call:
    users: [U0CAROL]
github:
  repository: acme/analytics
deploy:
  environments:
    production:
      soak:
        environment: development
        duration: 24h
      approval: product_owner
%s    staging:
      approval: none
      checklist: false
`

// fakeRoles maps users to the roles they hold.
type fakeRoles map[string][]config.Role

func (r fakeRoles) Has(_ context.Context, user string, role config.Role) (bool, error) {
	return slices.Contains(r[user], role), nil
}

func (fakeRoles) Holders(role config.Role) string { return "@" + string(role) }

var roles = fakeRoles{
	alice: {config.RoleDeployer},
	bob:   {config.RoleProductOwner},
	carol: {config.RoleDeployer, config.RoleProductOwner},
}

// openedModals records the modals the service opens, as Slack would show them.
type openedModals struct {
	mu    sync.Mutex
	views []slack.ModalViewRequest
}

func (m *openedModals) OpenModal(_ context.Context, _ string, view slack.ModalViewRequest) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.views = append(m.views, view)
	return fmt.Sprintf("V%d", len(m.views)), nil
}

func (m *openedModals) opened() []slack.ModalViewRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.views)
}

func actor(user string) chat.Actor {
	return chat.Actor{UserID: user, UserName: strings.ToLower(strings.TrimPrefix(user, "U0")), ChannelID: "C0DEPLOYS"}
}

// testBundle is the world around the deploy service — a fake GitHub, a SQLite store, a clock
// that tests advance and, for verification, the sandbox's AWS and monitoring — and the process
// that serves it (client, service and runner), which a test can kill and start again.
type testBundle struct {
	ctx    context.Context
	clock  *clock.Offset
	gh     *fakegithub.Server
	store  *store.SQL
	cfg    *config.Config
	log    zerolog.Logger
	modals *openedModals
	roles  fakeRoles

	// Verification worlds only (newVerifiedWorld): the fakes and their shared fault timeline.
	aws        *fakeaws.Server
	monitoring *fakemonitoring.Server
	faults     *fakeaws.Faults

	*process
}

// process is one life of the bot: its GitHub client (with its ETag cache), the service and
// the runner.
type process struct {
	client *github.Client
	svc    *deploy.Service
	runner *runner.Runner
	// kill ends the process as a crash would: the runner's context is cancelled, so nothing
	// the step in hand does afterwards is recorded. dead is closed once the runner stopped.
	kill context.CancelFunc
	dead chan struct{}
}

// processHooks change a process for the restart tests; the zero value is a plain process.
type processHooks struct {
	// github wraps the GitHub client the service uses.
	github func(deploy.GitHub, *process) deploy.GitHub
	// workflow wraps the deploy workflow the runner runs.
	workflow func(runner.Workflow, *process) runner.Workflow
	// transport wraps the client's HTTP transport.
	transport func(http.RoundTripper) http.RoundTripper
	// options changes the service's options (e.g. leaves an integration out).
	options func(*deploy.Options)
}

// setup starts a fake GitHub (workflow runs take 1 s queued and 2 s running), a store and a
// process with its runner. When GitHub's API description is available, the fake refuses
// every request GitHub would refuse.
func setup(t testing.TB) *testBundle {
	t.Helper()
	b := newWorld(t, quickWorkflow)
	b.start(t, processHooks{})
	return b
}

// quickWorkflow is the fake's deploy workflow, quick: what matters is that it moves.
var quickWorkflow = fakegithub.Workflow{QueueTime: time.Second, RunTime: 2 * time.Second}

// newDispatchWorld is newWorld where opsbot dispatches the deploy workflow, which a tag push
// does not start.
func newDispatchWorld(t testing.TB) *testBundle {
	t.Helper()
	wf := quickWorkflow
	wf.TagPattern = "no-tag-starts-it"
	b := newWorld(t, wf)
	b.cfg.GitHub.Workflow.Trigger = "dispatch"
	return b
}

// newWorld is setup without a process, with the fake's deploy workflow taking as long as wf
// says.
func newWorld(t testing.TB, wf fakegithub.Workflow) *testBundle {
	t.Helper()
	return newWorldWith(t, worldOptions{workflow: wf})
}

// worldOptions shape a world beyond its deploy workflow.
type worldOptions struct {
	workflow fakegithub.Workflow
	// teammate keeps developing after each release, so that one more can be cut (and so a
	// rollback has somewhere to go back to).
	teammate bool
	// production is production's post-deployment settings, as YAML indented under it.
	production string
}

// newWorldWith is newWorld shaped by opts.
func newWorldWith(t testing.TB, opts worldOptions) *testBundle {
	t.Helper()
	b := newBareWorld(t, opts)
	b.configure(t, opts.production)
	return b
}

// configure reads testConfig with production's post-deployment settings.
func (b *testBundle) configure(t testing.TB, production string) {
	t.Helper()
	var err error
	b.cfg, err = config.Parse("opsbot.yaml", []byte(fmt.Sprintf(testConfig, production)), func(string) string { return "" })
	require.NoError(t, err)
}

// newBareWorld is a world with no configuration yet.
func newBareWorld(t testing.TB, wopts worldOptions) *testBundle {
	t.Helper()
	b := &testBundle{
		ctx: context.Background(), clock: clock.NewOffset(),
		log:    worldLog(t),
		modals: &openedModals{}, roles: roles,
	}
	opts := fakegithub.Options{Clock: b.clock, Workflow: wopts.workflow, Teammate: wopts.teammate}
	if dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR")); err == nil {
		opts.SpecsDir = dir
	} else {
		t.Logf("requests are not checked against GitHub's API description: %v", err)
	}
	var err error
	b.gh, err = fakegithub.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.gh.Close()) })

	b.store, err = store.Open(b.ctx, store.Config{
		Driver: store.SQLite, DSN: filepath.Join(t.TempDir(), "opsbot.db"), Clock: b.clock, Logger: zerolog.Nop(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.store.Close()) })
	return b
}

// start begins a new life of the bot on the same world, until kill or the end of the test.
func (b *testBundle) start(t testing.TB, hooks processHooks) {
	t.Helper()
	p := &process{dead: make(chan struct{})}
	httpClient := &http.Client{Transport: http.DefaultTransport}
	if hooks.transport != nil {
		httpClient.Transport = hooks.transport(httpClient.Transport)
	}
	var err error
	p.client, err = github.New(github.Options{
		BaseURL: b.gh.BaseURL(), Token: config.NewSecret(fakegithub.DefaultToken), Owner: "acme", Repo: "analytics",
		HTTPClient: httpClient, Log: b.log,
	})
	require.NoError(t, err)
	var gh deploy.GitHub = p.client
	if hooks.github != nil {
		gh = hooks.github(gh, p)
	}
	opts := deploy.Options{
		Store: b.store, GitHub: gh, Roles: b.roles, Modals: b.modals, Config: b.cfg, Clock: b.clock, Log: b.log,
		Wake: func() { p.runner.Nudge() }, RepoURL: "https://github.com/acme/analytics",
	}
	b.addVerifiers(t, &opts, httpClient)
	if hooks.options != nil {
		hooks.options(&opts)
	}
	p.svc, err = deploy.New(opts)
	require.NoError(t, err)

	workflows := p.svc.Workflows()
	if hooks.workflow != nil {
		for _, kind := range []store.RunKind{store.KindDeploy, store.KindRollback} {
			workflows[kind] = hooks.workflow(workflows[kind], p)
		}
	}
	p.runner, err = runner.New(runner.Options{
		Store: b.store, Workflows: workflows, Clock: b.clock, Log: b.log, Replica: "test", Poll: 100 * time.Millisecond,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(b.ctx)
	p.kill = cancel
	go func() {
		defer close(p.dead)
		_ = p.runner.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-p.dead })
	b.process = p
}

// stopped waits until a killed process has stopped.
func (b *testBundle) stopped(t testing.TB) {
	t.Helper()
	select {
	case <-b.dead:
	case <-time.After(10 * time.Second):
		t.Fatal("the runner did not stop after its process was killed")
	}
}

// driveTimeout bounds how long a test waits for a run to get somewhere.
const driveTimeout = 20 * time.Second

// drive lets the runner work on run id until done says the run got where the test wants it,
// and the runner has finished with it (the card is up to date). Whenever the runner is idle
// with nothing due, the clock jumps to the next wake-up (a CI re-check, a soak's end, a
// workflow poll), so no test waits on time. When the run waits on a person, act plays them;
// with act nil nobody acts, and the test fails unless the step looks again at a set time.
func (b *testBundle) drive(t testing.TB, id int64, done func(store.Run) bool, act func(store.Run)) store.Run {
	t.Helper()
	deadline := time.Now().Add(driveTimeout)
	for {
		// The run is read once the runner is idle, so that what it says still holds when the
		// clock is moved or a person acts.
		idle := b.runner.Idle(b.ctx, 0)
		run, err := b.store.GetRun(b.ctx, id)
		require.NoError(t, err)
		switch {
		case done(run):
			b.settle(t)
			run, err = b.store.GetRun(b.ctx, id)
			require.NoError(t, err)
			return run
		case run.State.Final():
			t.Fatalf("run %d ended (%s) before it got where the test wanted it:\n%s", id, run.State, describe(run))
		case time.Now().After(deadline):
			t.Fatalf("run %d did not get where the test wanted it within %s:\n%s", id, driveTimeout, describe(run))
		case !idle:
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if st := current(run); st != nil && st.Wait == store.WaitPerson {
			switch {
			case act != nil:
				act(run)
				continue
			case run.WakeAt == nil:
				t.Fatalf("run %d waits on a person:\n%s", id, describe(run))
			}
		}
		next, err := b.store.NextWake(b.ctx)
		require.NoError(t, err)
		if next == nil {
			t.Fatalf("run %d is stuck: nothing is scheduled:\n%s", id, describe(run))
		}
		if wait := next.Sub(b.clock.Now()); wait > 0 {
			b.clock.Advance(wait + time.Millisecond)
		}
	}
}

// settle waits until the runner has finished what it had in hand (the card follows the store),
// or has died.
func (b *testBundle) settle(t testing.TB) {
	t.Helper()
	require.Eventually(t, func() bool {
		select {
		case <-b.dead:
			return true
		default:
			return b.runner.Idle(b.ctx, 0)
		}
	}, driveTimeout, 5*time.Millisecond)
}

// current is the first step of run that is not done.
func current(run store.Run) *store.Step {
	for i := range run.Steps {
		if !run.Steps[i].State.Final() {
			return &run.Steps[i]
		}
	}
	return nil
}

func describe(run store.Run) string {
	lines := []string{fmt.Sprintf("%s: %s", run.Title, run.State)}
	for _, s := range run.Steps {
		lines = append(lines, fmt.Sprintf("  %-14s %-8s %-8s %s", s.Name, s.State, s.Wait, s.Detail))
	}
	return strings.Join(lines, "\n")
}

// stepIs says a run's step reached state (and, for a waiting step, waits on wait).
func stepIs(name string, state store.StepState, wait store.WaitKind) func(store.Run) bool {
	return func(run store.Run) bool {
		s := run.StepByName(name)
		return s != nil && s.State == state && (state != store.StepWaiting || s.Wait == wait)
	}
}

func ended(run store.Run) bool { return run.State.Final() }

// cutRelease runs /release v1.0.0 as alice to its end and returns the release pull request's
// number.
func (b *testBundle) cutRelease(t testing.TB) int {
	t.Helper()
	return b.cutReleaseOf(t, version)
}

// cutReleaseOf runs /release v as alice to its end and returns the release pull request's
// number.
func (b *testBundle) cutReleaseOf(t testing.TB, v string) int {
	t.Helper()
	_, err := b.svc.StartRelease(b.ctx, actor(alice), v)
	require.NoError(t, err)
	run, err := b.store.GetRunByKey(b.ctx, "release:acme/analytics:"+v)
	require.NoError(t, err)
	run = b.drive(t, run.ID, ended, nil)
	require.Equal(t, store.RunSucceeded, run.State, describe(run))
	for _, pr := range b.gh.PullRequests() {
		if pr.Head == "release/"+v && pr.State == "open" {
			return pr.Number
		}
	}
	t.Fatal("the release opened no pull request")
	return 0
}

// releaseHead is where release/v1.0.0 points.
func (b *testBundle) releaseHead(t testing.TB) string {
	t.Helper()
	sha, ok := b.gh.Branch(branch)
	require.True(t, ok, "%s exists", branch)
	return sha
}

// startDeploy runs /deploy v1.0.0 [to env] as who and returns the run it started.
func (b *testBundle) startDeploy(t testing.TB, who, env string) store.Run {
	t.Helper()
	return b.startDeployOf(t, who, version, env)
}

// startDeployOf runs /deploy v [to env] as who and returns the run it started.
func (b *testBundle) startDeployOf(t testing.TB, who, v, env string) store.Run {
	t.Helper()
	_, err := b.svc.StartDeploy(b.ctx, actor(who), v, env)
	require.NoError(t, err)
	runs, err := b.store.ListRuns(b.ctx, store.RunQuery{Kinds: []store.RunKind{store.KindDeploy}, Limit: 1})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	return runs[0]
}

// manualItems are the checklist items only a person can tick.
var manualItems = []string{"docs", "migrations", "backup", "alerts", "rollback"}

// people plays the humans of a production deploy: alice ticks the checklist, bob approves
// the latest request. They act one click at a time, each once the runner has taken the last
// one in.
func (b *testBundle) people(t testing.TB) func(store.Run) {
	return func(run store.Run) {
		t.Helper()
		switch current(run).Name {
		case "checklist":
			for _, item := range manualItems {
				reply, err := b.svc.Tick(b.ctx, actor(alice), run.ID, item)
				require.NoError(t, err)
				if reply.Empty() { // ticked now, not before
					return
				}
			}
			t.Fatalf("every item is ticked, yet:\n%s", describe(run))
		case "approval":
			_, err := b.svc.Approve(b.ctx, actor(bob), b.approvalValue(t, run.ID, b.latestApprovalSeq(t, run.ID)))
			require.NoError(t, err)
		default:
			t.Fatalf("nobody knows what to do for:\n%s", describe(run))
		}
	}
}

// approvedByCarol is carol approving the release pull request on GitHub.
func approvedByCarol(t testing.TB, b *testBundle, pr int) {
	t.Helper()
	require.NoError(t, b.gh.AddReview(pr, "carol", "APPROVED"))
}

// deployToProduction cuts the release, has carol approve its pull request and runs /deploy
// v1.0.0 to its end, with alice and bob doing their parts.
func (b *testBundle) deployToProduction(t testing.TB) store.Run {
	t.Helper()
	return b.ship(t, version)
}

// ship is deployToProduction for version v.
func (b *testBundle) ship(t testing.TB, v string) store.Run {
	t.Helper()
	approvedByCarol(t, b, b.cutReleaseOf(t, v))
	run := b.startDeployOf(t, alice, v, "")
	return b.drive(t, run.ID, ended, b.people(t))
}

// outbox returns the message queued under key.
func (b *testBundle) outbox(t testing.TB, key string) store.OutboxMessage {
	t.Helper()
	m, err := b.store.GetOutbox(b.ctx, key)
	require.NoError(t, err, "outbox message %s", key)
	return m
}

// card is everything the run's status card says, as text.
func (b *testBundle) card(t testing.TB, runID int64) string {
	t.Helper()
	return shown(t, b.outbox(t, fmt.Sprintf("run:%d:card", runID)))
}

// shown is a message's fallback text and every text of its blocks, one per line.
func shown(t testing.TB, m store.OutboxMessage) string {
	t.Helper()
	require.True(t, len(m.Blocks) == 0 || json.Valid(m.Blocks), "message %s has blocks that are not JSON", m.Key)
	return fakeslack.Shown(m.Text, m.Blocks)
}

// buttonValue is the value of the first button actionID in a message, as Slack sends it on a
// click.
func buttonValue(t testing.TB, m store.OutboxMessage, actionID string) string {
	t.Helper()
	value, found := findButtonIn(t, m, actionID)
	require.True(t, found, "message %s has no %s button:\n%s", m.Key, actionID, shown(t, m))
	return value
}

// findButtonIn looks for the button actionID in a message.
func findButtonIn(t testing.TB, m store.OutboxMessage, actionID string) (string, bool) {
	t.Helper()
	if len(m.Blocks) == 0 {
		return "", false
	}
	var blocks any
	require.NoError(t, json.Unmarshal(m.Blocks, &blocks))
	return findButton(blocks, actionID)
}

func findButton(node any, actionID string) (string, bool) {
	switch n := node.(type) {
	case map[string]any:
		if n["type"] == "button" && n["action_id"] == actionID {
			value, _ := n["value"].(string)
			return value, true
		}
		for _, key := range []string{"elements", "accessory"} {
			if value, found := findButton(n[key], actionID); found {
				return value, true
			}
		}
	case []any:
		for _, v := range n {
			if value, found := findButton(v, actionID); found {
				return value, true
			}
		}
	}
	return "", false
}

func approvalKey(runID int64, seq int) string { return fmt.Sprintf("run:%d:approval:%d", runID, seq) }

// approvalValue is what the Approve button of the seq-th approval request carries.
func (b *testBundle) approvalValue(t testing.TB, runID int64, seq int) string {
	t.Helper()
	return buttonValue(t, b.outbox(t, approvalKey(runID, seq)), "deploy.approve")
}

// latestApprovalSeq is the number of the newest approval request posted for a run.
func (b *testBundle) latestApprovalSeq(t testing.TB, runID int64) int {
	t.Helper()
	seq := 0
	for {
		_, err := b.store.GetOutbox(b.ctx, approvalKey(runID, seq+1))
		if errors.Is(err, store.ErrNotFound) {
			require.Positive(t, seq, "run %d has no approval request", runID)
			return seq
		}
		require.NoError(t, err)
		seq++
	}
}

// requireRefused asserts that err is a refusal shown to the person, saying want.
func requireRefused(t testing.TB, err error, want string) {
	t.Helper()
	refusal, ok := chat.AsRefusal(err)
	require.True(t, ok, "want a refusal saying %q, got %v", want, err)
	require.Contains(t, refusal.Reason, want)
}

// productionDeployments are the fake's deployments of v1.0.0 to production.
func (b *testBundle) productionDeployments() []fakegithub.Deployment {
	var found []fakegithub.Deployment
	for _, d := range b.gh.Deployments() {
		if d.Environment == "production" && d.Ref == version {
			found = append(found, d)
		}
	}
	return found
}

// deployedToDevelopment records a successful deployment of sha to development, as the team's
// continuous delivery would after a push; the soak gate counts from it.
func (b *testBundle) deployedToDevelopment(t testing.TB, sha string) {
	t.Helper()
	dep, err := b.client.CreateDeployment(b.ctx, sha, "development", "continuous delivery", "cd-"+sha)
	require.NoError(t, err)
	require.NoError(t, b.client.SetDeploymentStatus(b.ctx, dep.ID, "success", "", "deployed"))
}

// worldLog is the world's log: the test's, from warnings up. A fuzz target may not write
// through its *testing.F, so a fuzzed world logs nowhere.
func worldLog(t testing.TB) zerolog.Logger {
	if _, fuzzing := t.(*testing.F); fuzzing {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}
