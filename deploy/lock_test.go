package deploy_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/store"
)

func TestEnvironmentLock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cutRelease(t) // nobody reviews it: every deploy waits at the review gate
	first := b.startDeploy(t, alice, "")
	lock, err := b.store.GetLock(b.ctx, "env:production")
	require.NoError(t, err)
	require.Equal(t, first.ID, lock.RunID)

	for _, env := range []string{"", "production"} {
		_, err = b.svc.StartDeploy(b.ctx, actor(carol), version, env)
		requireRefused(t, err, fmt.Sprintf("production is busy: Deploy v1.0.0 → production (run #%d, ", first.ID))
		requireRefused(t, err, fmt.Sprintf("was started by <@U0ALICE> <!date^%d^", lock.Since.Unix()))
		requireRefused(t, err, "cancel it with /deploy cancel production")
	}

	staging := b.startDeploy(t, carol, "staging")
	require.Equal(t, "staging", staging.Env, "another environment is not blocked")
	b.drive(t, staging.ID, stepIs("review", store.StepWaiting, store.WaitSystem), nil)
	status, err := b.svc.Status(b.ctx)
	require.NoError(t, err)
	require.Contains(t, status.Text, "• *Deploy v1.0.0 → production* — waiting at code review · <@U0ALICE>")
	require.Contains(t, status.Text, "• *Deploy v1.0.0 → staging* — waiting at code review · <@U0CAROL>")

	b.drive(t, first.ID, stepIs("review", store.StepWaiting, store.WaitSystem), nil)
	_, err = b.svc.Cancel(b.ctx, actor(alice), "production")
	require.NoError(t, err)
	first = b.drive(t, first.ID, ended, nil)
	require.Equal(t, store.RunCancelled, first.State)

	again := b.startDeploy(t, carol, "production")
	require.NotEqual(t, first.ID, again.ID, "once the first deploy ended, a new one starts")
	require.Equal(t, store.RunRunning, again.State)
}

func TestCancelStopsTheDeployAndItsWorkflowRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	approvedByCarol(t, b, b.cutRelease(t))
	run := b.startDeploy(t, alice, "")
	run = b.drive(t, run.ID, stepIs("workflow", store.StepWaiting, store.WaitSystem), b.people(t))
	require.Len(t, b.gh.WorkflowRuns(), 2, "v0.9.0's run and this one")
	require.NotEqual(t, "completed", b.gh.WorkflowRuns()[1].Status)

	_, err := b.svc.Cancel(b.ctx, actor(bob), "")
	requireRefused(t, err, "Only @deployer can cancel a deploy.")
	reply, err := b.svc.Cancel(b.ctx, actor(alice), "")
	require.NoError(t, err)
	require.Equal(t, "Cancelled Deploy v1.0.0 → production.", reply.Text)

	run = b.drive(t, run.ID, ended, nil)
	require.Equal(t, store.RunCancelled, run.State)
	require.Contains(t, b.card(t, run.ID), "⏹ Cancelled by <@U0ALICE>.")
	require.Contains(t, shown(t, b.outbox(t, fmt.Sprintf("run:%d:cancelled", run.ID))), "⏹ Cancelled by <@U0ALICE> <!date^")
	_, err = b.store.GetLock(b.ctx, "env:production")
	require.ErrorIs(t, err, store.ErrNotFound, "the environment is free again")
	workflowRun := b.gh.WorkflowRuns()[1]
	require.Equal(t, "completed", workflowRun.Status)
	require.Equal(t, "cancelled", workflowRun.Conclusion)
	deployment := b.productionDeployments()[0]
	require.Equal(t, "failure", deployment.Statuses[len(deployment.Statuses)-1].State)

	_, err = b.svc.Cancel(b.ctx, actor(alice), "")
	requireRefused(t, err, "Nothing is being deployed to production.")
}

func TestDeployToAnUnknownEnvironmentIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)

	_, err := b.svc.StartDeploy(b.ctx, actor(alice), version, "qa")

	requireRefused(t, err, `There is no environment "qa". Known environments: production, staging.`)
}
