package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/deploy"
	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// crashPoint is where the process dies during a deploy: right after a step's Run returned
// (before the runner recorded its outcome), or right after a GitHub write inside a step
// returned (before the step recorded what it did).
type crashPoint struct {
	step     string // the step after whose first return the process dies
	call     string // or the write after which it dies, e.g. "SetDeploymentStatus success"
	dispatch bool   // the workflow is dispatched by opsbot rather than started by the tag push
}

func (c crashPoint) String() string {
	where := "after step " + c.step
	if c.call != "" {
		where = "after " + c.call
	}
	if c.dispatch {
		where += " (dispatch)"
	}
	return where
}

// crashAfterStep kills the process right after the named step's first return.
type crashAfterStep struct {
	runner.Workflow
	step  string
	crash func()
}

func (w crashAfterStep) Steps(run store.Run) []runner.Step {
	steps := w.Workflow.Steps(run)
	for i, s := range steps {
		if s.Name == w.step {
			steps[i].Run = func(ctx context.Context, x *runner.Exec) runner.Result {
				res := s.Run(ctx, x)
				w.crash()
				return res
			}
		}
	}
	return steps
}

// crashAfterCall kills the process right after the named GitHub write returned.
type crashAfterCall struct {
	deploy.GitHub
	call  string
	crash func()
}

func (g crashAfterCall) after(call string) {
	if call == g.call {
		g.crash()
	}
}

func (g crashAfterCall) MergePullRequest(ctx context.Context, number int, expectedHeadSHA, method, commitTitle string) (string, error) {
	defer g.after("MergePullRequest")
	return g.GitHub.MergePullRequest(ctx, number, expectedHeadSHA, method, commitTitle)
}

func (g crashAfterCall) CreateAnnotatedTag(ctx context.Context, name, commitSHA, message string) (github.Tag, error) {
	defer g.after("CreateAnnotatedTag")
	return g.GitHub.CreateAnnotatedTag(ctx, name, commitSHA, message)
}

func (g crashAfterCall) CreateRelease(ctx context.Context, tag, name, body string) (github.Release, error) {
	defer g.after("CreateRelease")
	return g.GitHub.CreateRelease(ctx, tag, name, body)
}

func (g crashAfterCall) CreateDeployment(ctx context.Context, ref, environment, description, key string) (github.Deployment, error) {
	defer g.after("CreateDeployment")
	return g.GitHub.CreateDeployment(ctx, ref, environment, description, key)
}

func (g crashAfterCall) SetDeploymentStatus(ctx context.Context, id int64, state, logURL, description string) error {
	defer g.after("SetDeploymentStatus " + state)
	return g.GitHub.SetDeploymentStatus(ctx, id, state, logURL, description)
}

func (g crashAfterCall) DispatchWorkflow(ctx context.Context, workflowFile, ref string, inputs map[string]any) error {
	defer g.after("DispatchWorkflow")
	return g.GitHub.DispatchWorkflow(ctx, workflowFile, ref, inputs)
}

// downtime is how long the bot is away after a crash before it runs again.
const downtime = 2 * time.Minute

func TestRestartAtEveryStepResumesWithoutDuplicates(t *testing.T) {
	t.Parallel()
	points := []crashPoint{
		{step: "release_branch"}, {step: "ci"}, {step: "soak"}, {step: "review"}, {step: "checklist"},
		{step: "approval"}, {step: "merge"}, {step: "tag"}, {step: "workflow"}, {step: "verification"},
		{call: "MergePullRequest"}, {call: "CreateAnnotatedTag"}, {call: "CreateRelease"},
		{call: "CreateDeployment"}, {call: "SetDeploymentStatus in_progress"}, {call: "SetDeploymentStatus success"},
		{step: "workflow", dispatch: true}, {call: "DispatchWorkflow", dispatch: true},
	}
	rows := make([]string, len(points))
	t.Run("crash", func(t *testing.T) {
		for i, point := range points {
			t.Run(point.String(), func(t *testing.T) {
				t.Parallel()
				rows[i] = restartAt(t, point)
			})
		}
	})
	t.Logf("restart matrix (the process dies, is down %s, and a new one resumes):\n%-44s %-34s %s\n%s",
		downtime, "crash point", "recorded when it died", "after the restart", strings.Join(rows, "\n"))
}

// restartAt runs a production deploy whose process dies at point, starts a new process on the
// same store after a while, lets it finish, and checks that nothing happened twice. It returns
// the matrix row.
func restartAt(t *testing.T, point crashPoint) string {
	var b *testBundle
	if point.dispatch {
		b = newDispatchWorld(t)
	} else {
		b = newWorld(t, quickWorkflow)
	}
	var crashed atomic.Bool
	var once sync.Once
	die := func(p *process) func() {
		return func() { once.Do(func() { p.kill(); crashed.Store(true) }) }
	}
	hooks := processHooks{
		github: func(client deploy.GitHub, p *process) deploy.GitHub {
			if point.call == "" {
				return client
			}
			return crashAfterCall{GitHub: client, call: point.call, crash: die(p)}
		},
		workflow: func(wf runner.Workflow, p *process) runner.Workflow {
			if point.step == "" {
				return wf
			}
			return crashAfterStep{Workflow: wf, step: point.step, crash: die(p)}
		},
	}
	b.start(t, hooks)
	approvedByCarol(t, b, b.cutRelease(t))
	run := b.startDeploy(t, alice, "")

	run = b.drive(t, run.ID, func(store.Run) bool { return crashed.Load() }, b.people(t))
	b.stopped(t)
	run, err := b.store.GetRun(b.ctx, run.ID)
	require.NoError(t, err)
	atCrash := fmt.Sprintf("%s %s", current(run).Name, current(run).State)
	b.clock.Advance(downtime)
	b.start(t, processHooks{})
	run = b.drive(t, run.ID, ended, b.people(t))

	require.Equal(t, store.RunSucceeded, run.State, describe(run))
	require.Len(t, b.gh.Merges(), 1, "one merge")
	require.Equal(t, b.gh.Merges()[0].SHA, b.versionTag(t).SHA, "one v1.0.0 tag, on the merge commit")
	require.Len(t, b.versionReleases(), 1, "one release")
	require.Len(t, b.versionRuns(), 1, "one workflow run")
	deployments := b.productionDeployments()
	require.Len(t, deployments, 1, "one production deployment")
	require.Equal(t, []string{"in_progress", "success"}, deployStatuses(deployments[0]))
	return fmt.Sprintf("%-44s %-34s %s: %d merge, %d tag, %d release, %d workflow run, %d deployment %v",
		point, atCrash, run.State, len(b.gh.Merges()), 1, len(b.versionReleases()), len(b.versionRuns()),
		len(deployments), deployStatuses(deployments[0]))
}
