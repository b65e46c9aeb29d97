package deploy_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/deploy"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/store"
)

// confirmValue is what the Confirm button of a rollback confirmation carries.
func confirmValue(t testing.TB, msg chat.Message) string {
	t.Helper()
	blocks, err := msg.BlocksJSON()
	require.NoError(t, err)
	return buttonValue(t, store.OutboxMessage{Key: "confirmation", Blocks: blocks}, "deploy.rollback.confirm")
}

// confirmation is the text of a rollback confirmation, as its blocks show it.
func confirmation(t testing.TB, msg chat.Message) string {
	t.Helper()
	blocks, err := msg.BlocksJSON()
	require.NoError(t, err)
	return shown(t, store.OutboxMessage{Text: msg.Text, Blocks: blocks})
}

// newestRollback is the rollback run started last.
func (b *testBundle) newestRollback(t testing.TB) store.Run {
	t.Helper()
	runs, err := b.store.ListRuns(b.ctx, store.RunQuery{Kinds: []store.RunKind{store.KindRollback}, Limit: 1})
	require.NoError(t, err)
	require.Len(t, runs, 1, "a rollback was started")
	return runs[0]
}

// rollBack has who ask for a rollback of production, checks the confirmation offers target,
// confirms it and follows the rollback run to its end.
func (b *testBundle) rollBack(t testing.TB, who, target string) store.Run {
	t.Helper()
	prompt, err := b.svc.PromptRollback(b.ctx, actor(who), "", "")
	require.NoError(t, err)
	require.Contains(t, confirmation(t, prompt), "\nTo: "+target+" — ")
	reply, err := b.svc.ConfirmRollback(b.ctx, actor(who), confirmValue(t, prompt))
	require.NoError(t, err)
	require.Contains(t, reply.Text, "to "+target+"; follow it on the card")
	return b.drive(t, b.newestRollback(t).ID, ended, nil)
}

// productionDeploymentsOf are the fake's production deployments of version v, oldest first.
func (b *testBundle) productionDeploymentsOf(v string) []fakegithub.Deployment {
	var found []fakegithub.Deployment
	for _, d := range b.gh.Deployments() {
		if d.Environment == "production" && d.Ref == v {
			found = append(found, d)
		}
	}
	return found
}

// dispatchesOf are the workflow runs dispatched to deploy tag v.
func (b *testBundle) dispatchesOf(v string) []fakegithub.WorkflowRun {
	var found []fakegithub.WorkflowRun
	for _, wr := range b.gh.WorkflowRuns() {
		if wr.Event == "workflow_dispatch" && wr.Tag == v {
			found = append(found, wr)
		}
	}
	return found
}

func TestTwoRollbacksInARowGoFurtherBack(t *testing.T) {
	t.Parallel()
	// Production has no checks configured: a deploy that ends counts as stable.
	b := newWorldWith(t, worldOptions{workflow: quickWorkflow, teammate: true})
	b.start(t, processHooks{})
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		run := b.ship(t, v)
		require.Equal(t, store.RunSucceeded, run.State, describe(run))
	}

	prompt, err := b.svc.PromptRollback(b.ctx, actor(alice), "production", "")
	require.NoError(t, err)
	text := confirmation(t, prompt)
	require.Contains(t, text, "↩️ *Roll back production?*\nNow: v1.2.0 (deployed with no verification checks)\n"+
		"To: v1.1.0 — the newest version that was deployed with no verification checks configured (deployed <!date^")
	require.Contains(t, text, " by <@U0ALICE>)")
	require.True(t, strings.HasSuffix(text, "\nConfirm\nCancel"), "Confirm and Cancel buttons: %s", text)

	first := b.rollBack(t, alice, "v1.1.0")
	require.Equal(t, store.RunSucceeded, first.State, describe(first))
	card := b.card(t, first.ID)
	require.Contains(t, card, "↩️ *Roll back production → v1.1.0*\n✅ production is back on v1.1.0 (no verification checks configured).")
	require.Contains(t, card, "from v1.2.0 (run #")
	require.Equal(t, "skipped: no checks configured", first.StepByName("verification").Detail)

	second := b.rollBack(t, alice, "v1.0.0")
	require.Equal(t, store.RunSucceeded, second.State, describe(second))
	require.Contains(t, b.card(t, second.ID), "✅ production is back on v1.0.0 (no verification checks configured).")

	_, err = b.svc.PromptRollback(b.ctx, actor(alice), "", "")
	requireRefused(t, err, "No version older than v1.0.0 passed verification in production, so there is nothing to roll back to. Stable versions in production: v1.2.0, v1.1.0.")

	for _, v := range []string{"v1.1.0", "v1.0.0"} {
		dispatched := b.dispatchesOf(v)
		require.Len(t, dispatched, 1, "the rollback to %s dispatched the workflow once", v)
		require.Equal(t, map[string]string{"tag": v}, dispatched[0].Inputs)
		require.Equal(t, v, dispatched[0].HeadBranch, "on the stable tag")
		deployments := b.productionDeploymentsOf(v)
		require.Len(t, deployments, 2, "its deploy, and the rollback to it")
		require.Equal(t, []string{"in_progress", "success"}, deployStatuses(deployments[1]))
	}
	history, err := b.svc.History(b.ctx, "production")
	require.NoError(t, err)
	require.Contains(t, history.Text, "✅ Roll back production to v1.0.0 · done · <@U0ALICE>")
}

func TestAutoRollbackStartsAtOnceWhenADeployFailsVerification(t *testing.T) {
	t.Parallel()
	b := newVerifiedWorld(t, worldOptions{teammate: true, production: "      auto_rollback: true\n"})
	b.start(t, processHooks{})
	stable := b.ship(t, "v1.0.0")
	require.Equal(t, store.RunSucceeded, stable.State, describe(stable))
	approvedByCarol(t, b, b.cutReleaseOf(t, "v1.1.0"))
	deployRun := b.startDeployOf(t, alice, "v1.1.0", "")
	b.drive(t, deployRun.ID, stepIs("workflow", store.StepWaiting, store.WaitSystem), b.people(t))
	require.NoError(t, b.faults.Set(fakeaws.FaultHealthUnhealthy))

	deployRun = b.drive(t, deployRun.ID, ended, b.people(t))

	require.Equal(t, store.RunFailed, deployRun.State, describe(deployRun))
	rollback, err := b.store.GetRunByKey(b.ctx, fmt.Sprintf("rollback:after:%d", deployRun.ID))
	require.NoError(t, err, "the rollback started by itself")
	require.Empty(t, rollback.RequestedBy, "requested by opsbot")
	card := b.card(t, deployRun.ID)
	require.Contains(t, card, fmt.Sprintf("↩️ opsbot is rolling production back to v1.0.0 (auto_rollback): run #%d.", rollback.ID))
	_, offered := findButtonIn(t, b.outbox(t, fmt.Sprintf("run:%d:card", deployRun.ID)), "deploy.rollback")
	require.False(t, offered, "no Roll back button: the rollback is under way")
	require.Contains(t, shown(t, b.outbox(t, fmt.Sprintf("run:%d:verification-failed", deployRun.ID))),
		"auto_rollback is on for production: opsbot rolls it back to its last stable version now.")

	b.faults.Clear() // v1.1.0's trouble goes with it
	rollback = b.drive(t, rollback.ID, ended, nil)

	require.Equal(t, store.RunSucceeded, rollback.State, describe(rollback))
	card = b.card(t, rollback.ID)
	require.Contains(t, card, "✅ production is back on v1.0.0, verified.")
	require.Contains(t, card, "started by opsbot: v1.1.0 failed verification (auto_rollback)")
	deployments := b.productionDeploymentsOf("v1.0.0")
	require.Len(t, deployments, 2)
	require.Equal(t, []string{"in_progress", "success"}, deployStatuses(deployments[1]))
}

func TestRollbackThatFailsVerificationSaysSoAndSuggestsTheNextStableVersion(t *testing.T) {
	t.Parallel()
	b := newVerifiedWorld(t, worldOptions{teammate: true})
	b.start(t, processHooks{})
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		run := b.ship(t, v)
		require.Equal(t, store.RunSucceeded, run.State, describe(run))
	}
	require.NoError(t, b.faults.Set(fakeaws.FaultAlarmFiring)) // the trouble was never v1.2.0's

	rollback := b.rollBack(t, alice, "v1.1.0")

	require.Equal(t, store.RunFailed, rollback.State, describe(rollback))
	require.Contains(t, b.card(t, rollback.ID), "🚨 *The rollback to v1.1.0 failed verification too*: Alarms (2) analytics-5xx in ALARM. "+
		"The next older stable version is v1.0.0: `/rollback production v1.0.0`.")
	alert := b.outbox(t, fmt.Sprintf("run:%d:verification-failed", rollback.ID))
	require.Contains(t, shown(t, alert), "🚨 <@U0ALICE> @on_call The rollback of production to v1.1.0 failed verification too.")
	require.Contains(t, shown(t, alert), "The next older stable version is v1.0.0: roll back to it with `/rollback production v1.0.0`, or fix forward.")
	require.Equal(t, "production", buttonValue(t, b.outbox(t, fmt.Sprintf("run:%d:card", rollback.ID)), "deploy.rollback"))
	require.Equal(t, "failure", deployStatuses(b.productionDeploymentsOf("v1.1.0")[1])[1])
}

func TestOnlyDeployersAndTheOnCallMayRollBack(t *testing.T) {
	t.Parallel()
	b := newWorldWith(t, worldOptions{workflow: quickWorkflow, teammate: true})
	b.start(t, processHooks{})
	b.ship(t, "v1.0.0")
	b.ship(t, "v1.1.0")
	offered, err := b.svc.PromptRollback(b.ctx, actor(alice), "", "")
	require.NoError(t, err)
	value := confirmValue(t, offered)

	// service is the deploy service as a person holding these roles reaches it.
	service := func(user string, held ...config.Role) *deploy.Service {
		svc, err := deploy.New(deploy.Options{
			Store: b.store, GitHub: b.client, Roles: fakeRoles{user: held}, Config: b.cfg, Clock: b.clock, Log: b.log,
			Wake: b.runner.Nudge,
		})
		require.NoError(t, err)
		return svc
	}
	const refusal = "Only @deployer or @on_call can roll back production."
	cases := []struct {
		name    string
		user    string
		roles   []config.Role
		allowed bool
	}{
		{"dave, who holds no role", dave, nil, false},
		{"bob as product owner", bob, []config.Role{config.RoleProductOwner}, false},
		{"bob as product owner and deployer", bob, []config.Role{config.RoleProductOwner, config.RoleDeployer}, true},
		{"carol as on-call", carol, []config.Role{config.RoleOnCall}, true},
	}
	for _, tc := range cases {
		svc := service(tc.user, tc.roles...)
		prompt, err := svc.PromptRollback(b.ctx, actor(tc.user), "production", "")
		if !tc.allowed {
			requireRefused(t, err, refusal)
			_, err = svc.ConfirmRollback(b.ctx, actor(tc.user), value)
			requireRefused(t, err, refusal)
			continue
		}
		require.NoError(t, err, tc.name)
		require.Contains(t, confirmation(t, prompt), "Now: v1.1.0", tc.name)
	}
	runs, err := b.store.ListRuns(b.ctx, store.RunQuery{Kinds: []store.RunKind{store.KindRollback}})
	require.NoError(t, err)
	require.Empty(t, runs, "a refused confirmation starts nothing")

	carolsReply, err := service(carol, config.RoleOnCall).ConfirmRollback(b.ctx, actor(carol), value)
	require.NoError(t, err)
	require.Equal(t, "Rolling production back from v1.1.0 to v1.0.0; follow it on the card in <#C0DEPLOYS>.", carolsReply.Text)
	rollback := b.newestRollback(t)
	require.Equal(t, carol, rollback.RequestedBy)
	_, err = b.svc.ConfirmRollback(b.ctx, actor(alice), value)
	requireRefused(t, err, fmt.Sprintf("production is busy: Roll back production to v1.0.0 (run #%d, ", rollback.ID))

	rollback = b.drive(t, rollback.ID, ended, nil)
	require.Equal(t, store.RunSucceeded, rollback.State, describe(rollback))
	_, err = b.svc.ConfirmRollback(b.ctx, actor(alice), value)
	requireRefused(t, err, "production is on v1.0.0 already.")
}

// TestRestartMidRollbackDoesNotDispatchTwice runs a rollback whose process dies at each point,
// starts a new process after a while, and checks the rollback ends with one dispatch and one
// GitHub deployment.
func TestRestartMidRollbackDoesNotDispatchTwice(t *testing.T) {
	t.Parallel()
	points := []struct {
		crashPoint
		// verified rollbacks sample AWS and the monitoring; the bot is away longer than the
		// window, so the restarted verification takes its final sample at once.
		verified bool
	}{
		{crashPoint: crashPoint{call: "DispatchWorkflow"}},
		{crashPoint: crashPoint{step: "workflow"}},
		{crashPoint: crashPoint{step: "verification"}, verified: true},
	}
	for _, point := range points {
		t.Run(point.String(), func(t *testing.T) {
			t.Parallel()
			world := worldOptions{workflow: quickWorkflow, teammate: true}
			var b *testBundle
			if point.verified {
				b = newVerifiedWorld(t, world)
			} else {
				b = newWorldWith(t, world)
			}
			b.start(t, processHooks{})
			b.ship(t, "v1.0.0")
			b.ship(t, "v1.1.0")
			b.kill()
			b.stopped(t)

			var crashed atomic.Bool
			var once sync.Once
			die := func(p *process) func() {
				return func() { once.Do(func() { p.kill(); crashed.Store(true) }) }
			}
			b.start(t, processHooks{
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
			})
			prompt, err := b.svc.PromptRollback(b.ctx, actor(alice), "", "")
			require.NoError(t, err)
			_, err = b.svc.ConfirmRollback(b.ctx, actor(alice), confirmValue(t, prompt))
			require.NoError(t, err)
			rollback := b.drive(t, b.newestRollback(t).ID, func(store.Run) bool { return crashed.Load() }, nil)
			b.stopped(t)
			b.clock.Advance(downtime)
			b.start(t, processHooks{})

			rollback = b.drive(t, rollback.ID, ended, nil)

			require.Equal(t, store.RunSucceeded, rollback.State, describe(rollback))
			require.Len(t, b.dispatchesOf("v1.0.0"), 1, "one dispatch")
			deployments := b.productionDeploymentsOf("v1.0.0")
			require.Len(t, deployments, 2, "the deploy of v1.0.0, and one for the rollback")
			require.Equal(t, []string{"in_progress", "success"}, deployStatuses(deployments[1]))
			if point.verified {
				require.Equal(t, "10 checks passed over 1 min (2 samples)", rollback.StepByName("verification").Detail,
					"the window went on from its first sample: the restart took the last")
			}
		})
	}
}
