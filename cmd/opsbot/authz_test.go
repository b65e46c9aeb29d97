//go:build !nosandbox

package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// The authorisation matrix: Dave acts in each role in turn — the configuration gives him that
// role and nothing else — and tries every command and button that changes something, in
// production and in staging, through the real serve path. A refusal must name who may, be
// shown to him alone and be audited as refused; whatever he may do must not be refused.
//
// Staging is set up to be approved by a deployer, production by a product owner, so that the
// environment decides who approves.

// authzRoles are the roles Dave takes, with the line of opsbot.yaml that gives it to him.
var authzRoles = []struct{ name, from, to string }{
	{"deployer", "deployer: {groups: [S0DEPLOYERS]}", "deployer: {groups: [S0DEPLOYERS], users: [U0DAVE]}"},
	{"product owner", "product_owner: {groups: [S0OWNERS]}", "product_owner: {groups: [S0OWNERS], users: [U0DAVE]}"},
	{"on-call", "on_call: {groups: [S0ONCALL]}", "on_call: {groups: [S0ONCALL], users: [U0DAVE]}"},
	{"commander", "incident_commander: {groups: [S0ONCALL]}", "incident_commander: {groups: [S0ONCALL], users: [U0DAVE]}"},
	{"admin", "roles:\n", "roles:\n  admin: {users: [U0DAVE]}\n"},
	{"nobody", "", ""},
}

// authzActions are what Dave tries, in this order (each may change what the next one finds),
// with the roles that may do it.
var authzActions = []struct {
	name    string
	env     string // "" when it is not about an environment
	allowed []string
}{
	{"checklist tick", "production", []string{"deployer", "product owner", "admin"}},
	{"reject", "production", []string{"product owner", "admin"}},
	{"approve", "production", []string{"product owner", "admin"}},
	{"rollback confirm", "production", []string{"deployer", "on-call", "admin"}},
	{"cancel", "production", []string{"deployer", "admin"}},
	{"deploy", "production", []string{"deployer", "admin"}},
	{"checklist tick", "staging", []string{"deployer", "product owner", "admin"}},
	{"reject", "staging", []string{"deployer", "admin"}},
	{"approve", "staging", []string{"deployer", "admin"}},
	{"rollback confirm", "staging", []string{"deployer", "on-call", "admin"}},
	{"cancel", "staging", []string{"deployer", "admin"}},
	{"deploy", "staging", []string{"deployer", "admin"}},
	{"release", "", []string{"deployer", "admin"}},
	{"incident severity", "", []string{"commander", "admin"}},
	{"incident resolve", "", []string{"commander", "admin"}},
	{"incident commander", "", []string{"commander", "admin"}},
	{"incident declare", "", []string{"deployer", "product owner", "on-call", "commander", "admin", "nobody"}},
}

func TestAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		cells = map[string]string{} // action|env|role → outcome
	)
	t.Run("roles", func(t *testing.T) {
		for _, role := range authzRoles {
			t.Run(role.name, func(t *testing.T) {
				t.Parallel()
				w := newAuthzWorld(t, role.from, role.to)
				for _, a := range authzActions {
					allowed := slices.Contains(a.allowed, role.name)
					e := w.try(a.name, a.env)
					cell := e.Outcome
					if e.Outcome == "refused" {
						cell = "refused: " + e.Detail
					}
					mu.Lock()
					cells[a.name+"|"+a.env+"|"+role.name] = cell
					mu.Unlock()

					what := fmt.Sprintf("%s %s as %s", a.name, a.env, role.name)
					if !allowed {
						require.Equal(t, "refused", e.Outcome, "%s: audited as refused", what)
						require.True(t, strings.HasPrefix(e.Detail, "Only "), "%s: the refusal names who may: %q", what, e.Detail)
						w.shown(fakeslack.Dave, e.channel, e.Detail)
						continue
					}
					require.False(t, e.Outcome == "refused" && strings.HasPrefix(e.Detail, "Only "), "%s is refused: %s", what, e.Detail)
					require.Contains(t, []string{"ok", "refused"}, e.Outcome, "%s: %s", what, e.Detail)
					if e.Outcome == "refused" {
						// Allowed, and then refused by the state of things, never by role.
						require.Equal(t, "rollback confirm", a.name, "%s: only a rollback with nothing to roll back to ends so: %s", what, e.Detail)
					}
				}
			})
		}
	})

	var b strings.Builder
	fmt.Fprintf(&b, "\n%-19s %-11s", "action", "env")
	for _, role := range authzRoles {
		fmt.Fprintf(&b, " %-13s", role.name)
	}
	for _, a := range authzActions {
		fmt.Fprintf(&b, "\n%-19s %-11s", a.name, a.env)
		for _, role := range authzRoles {
			cell := cells[a.name+"|"+a.env+"|"+role.name]
			short := "allowed"
			switch {
			case cell == "":
				short = "?"
			case strings.HasPrefix(cell, "refused: Only "):
				short = "REFUSED"
			case strings.HasPrefix(cell, "refused"):
				short = "allowed*"
			}
			fmt.Fprintf(&b, " %-13s", short)
		}
	}
	b.WriteString("\n(REFUSED: refused naming who may, audited as refused; allowed*: authorised, then answered that there is nothing to roll back)")
	t.Logf("role × command × environment, as Dave:%s", b.String())
}

// authzWorld is a bot with a production deploy and a staging deploy waiting for approval and
// two open incidents, commanded by Carol, that Dave is in.
type authzWorld struct {
	*testBot
	deploy     map[string]store.Run // by environment
	approval   map[string]string    // the approval buttons' value, by environment
	incidentA  store.Run
	incidentB  store.Run
	daveAudits int
}

func newAuthzWorld(t *testing.T, from, to string) *authzWorld {
	b := startTestBot(t, testBotOptions{
		// Workflow runs queue for an hour: the deploys Dave sets going do not finish in the test.
		github: fakegithub.Options{Reviewer: "erin", Workflow: fakegithub.Workflow{QueueTime: time.Hour}},
		config: func(yaml string, _ *sandbox.Sandbox) string {
			yaml = editConfig(t, yaml, "    staging:\n      approval: none\n", "    staging:\n      approval: deployer\n")
			if from != "" {
				yaml = editConfig(t, yaml, from, to)
			}
			return yaml
		},
	})
	w := &authzWorld{testBot: b, deploy: map[string]store.Run{}, approval: map[string]string{}}

	b.slash(fakeslack.Alice, fakeslack.Deploys, "/release", "v1.0.0")
	b.run(store.KindRelease, "Release v1.0.0", func(r store.Run) bool { return r.State == store.RunSucceeded })
	for _, env := range []string{"production", "staging"} {
		b.slash(fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.0.0 to "+env)
		title := "Deploy v1.0.0 → " + env
		b.run(store.KindDeploy, title, stepIs("checklist", store.StepWaiting, store.StepSkipped))
		b.tickChecklist(title)
		w.deploy[env] = b.run(store.KindDeploy, title, stepIs("approval", store.StepWaiting))
		var request []fakeslack.Message
		require.Eventually(t, func() bool {
			request = botPosts(b.sb, fakeslack.Deploys, "is ready for "+env)
			return len(request) == 1
		}, waitFor, tick)
		w.approval[env] = buttonValue(t, request[0], "deploy.approve")
	}
	for i, title := range []string{"Incident A", "Incident B"} {
		b.slash(fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev2 "+title)
		run := b.run(store.KindIncident, "SEV2 · "+title, stepIs("respond", store.StepWaiting))
		b.invite(run.Channel, fakeslack.Dave)
		if i == 0 {
			w.incidentA = run
		} else {
			w.incidentB = run
		}
	}
	return w
}

// tried is what became of one of Dave's tries: its audit entry, and where he was answered.
type tried struct {
	store.AuditEntry
	channel string
}

// try does the action as Dave and returns its audit entry.
func (w *authzWorld) try(action, env string) tried {
	w.t.Helper()
	dave, channel := fakeslack.Dave, fakeslack.Deploys
	switch action {
	case "checklist tick":
		w.press(dave, "deploy.check", fmt.Sprintf("%d:docs", w.deploy[env].ID))
	case "reject":
		w.press(dave, "deploy.reject", w.approval[env])
	case "approve":
		w.press(dave, "deploy.approve", w.approval[env])
	case "rollback confirm":
		w.press(dave, "deploy.rollback.confirm", fmt.Sprintf("%s:v0.9.0:%d", env, w.deploy[env].ID))
	case "cancel":
		w.slash(dave, channel, "/deploy", "cancel "+env)
	case "deploy":
		w.slash(dave, channel, "/deploy", "v1.0.0 to "+env)
	case "release":
		w.slash(dave, channel, "/release", "v1.0.0")
	case "incident severity":
		channel = w.incidentA.Channel
		w.slash(dave, channel, "/incident", "severity sev1")
	case "incident resolve":
		channel = w.incidentA.Channel
		w.slash(dave, channel, "/incident", "resolve Fixed by Dave")
	case "incident commander":
		channel = w.incidentB.Channel
		w.slash(dave, channel, "/incident", "commander @dave")
	case "incident declare":
		channel = fakeslack.Incidents
		w.slash(dave, channel, "/incident", "declare sev3 Dave's drill")
	default:
		w.t.Fatalf("unknown action %q", action)
	}
	w.daveAudits++
	return tried{AuditEntry: w.audited(dave, w.daveAudits), channel: channel}
}

// TestForgedClicksAreRefusedAgainstTheStoredState sends block_actions whose values were never
// on a button the bot showed: another run, another SHA, an older request, a run of another
// kind, no run at all, garbage, and — once the deploy is cancelled — the approval it no longer
// waits for. Each is refused, shown to the clicker alone and audited, and nothing changes:
// the bot re-reads the run the value names. (Self-approval, approval after the SHA moved and
// the double click are deploy/approval_test.go's: TestApprovalRefusals,
// TestApprovalIsVoidWhenTheReleaseHeadMovesAfterIt, TestApprovalByTheProductOwnerCountsOnceWhenDoubleClicked.)
func TestForgedClicksAreRefusedAgainstTheStoredState(t *testing.T) {
	t.Parallel()
	w := newAuthzWorld(t, "", "")
	prod, staging := w.deploy["production"], w.deploy["staging"]
	_, head, _ := strings.Cut(w.approval["production"], ":")
	head, _, _ = strings.Cut(head, ":")
	const otherSHA = "0123456789abcdef0123456789abcdef01234567"
	notMine := "That button is not one of mine."

	cases := []struct {
		name            string
		who             string
		actionID, value string
		want            string
	}{
		{"approve naming the staging run", fakeslack.Bob, "deploy.approve", fmt.Sprintf("%d:%s:1", staging.ID, head),
			"Only <!subteam^S0DEPLOYERS> can approve deploys to staging."},
		{"approve naming another SHA", fakeslack.Bob, "deploy.approve", fmt.Sprintf("%d:%s:1", prod.ID, otherSHA),
			"That button does not match the approval request of this deploy; use the buttons in its thread."},
		{"approve naming a request not made", fakeslack.Bob, "deploy.approve", fmt.Sprintf("%d:%s:7", prod.ID, head),
			"That button does not match the approval request of this deploy; use the buttons in its thread."},
		{"approve naming an incident", fakeslack.Bob, "deploy.approve", fmt.Sprintf("%d:%s:1", w.incidentA.ID, head), notMine},
		{"approve naming no run", fakeslack.Bob, "deploy.approve", fmt.Sprintf("%d:%s:1", prod.ID+1000, head), "That deploy does not exist."},
		{"approve with garbage", fakeslack.Bob, "deploy.approve", "1:2:3:4", notMine},
		{"reject naming another SHA", fakeslack.Bob, "deploy.reject", fmt.Sprintf("%d:%s:1", prod.ID, otherSHA),
			"That button does not match the approval request of this deploy; use the buttons in its thread."},
		{"tick naming an item opsbot ticks", fakeslack.Bob, "deploy.check", fmt.Sprintf("%d:tests", prod.ID),
			"That checklist item is ticked by opsbot when its evidence is in; it cannot be ticked by hand."},
		{"tick naming an incident", fakeslack.Bob, "deploy.check", fmt.Sprintf("%d:docs", w.incidentA.ID), notMine},
		{"tick naming no run", fakeslack.Bob, "deploy.check", fmt.Sprintf("%d:docs", prod.ID+1000), "That deploy does not exist."},
		{"cancel naming an incident", fakeslack.Alice, "deploy.cancel", fmt.Sprint(w.incidentA.ID), "That is not a deploy."},
		{"rollback confirm with garbage", fakeslack.Alice, "deploy.rollback.confirm", "production", notMine},
		{"incident resolve naming a deploy", fakeslack.Carol, "incident.resolve", fmt.Sprint(prod.ID), "That incident does not exist."},
		{"incident publish naming a deploy", fakeslack.Carol, "incident.publish", fmt.Sprintf("%d:1", prod.ID), "That is not an incident."},
		{"incident button with garbage", fakeslack.Carol, "incident.update", "../../etc/passwd", notMine},
	}
	audits := map[string]int{}
	for _, who := range []string{fakeslack.Alice, fakeslack.Bob, fakeslack.Carol} {
		entries, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{Actor: who})
		require.NoError(t, err)
		audits[who] = len(entries)
	}
	for _, tc := range cases {
		w.press(tc.who, tc.actionID, tc.value)
		audits[tc.who]++
		e := w.audited(tc.who, audits[tc.who])
		require.Equal(t, "refused", e.Outcome, "%s: %s", tc.name, e.Detail)
		require.Equal(t, tc.want, e.Detail, tc.name)
		w.shown(tc.who, fakeslack.Deploys, tc.want)
	}
	for env, run := range w.deploy {
		now := w.run(store.KindDeploy, run.Title, func(store.Run) bool { return true })
		require.Equal(t, store.StepWaiting, now.StepByName("approval").State, "%s still waits for its approval", env)
	}
	require.Empty(t, w.sb.GitHub.Merges(), "no forged click merged anything")

	// The real button, once the deploy no longer waits for it.
	w.slash(fakeslack.Alice, fakeslack.Deploys, "/deploy", "cancel production")
	w.run(store.KindDeploy, prod.Title, func(r store.Run) bool { return r.State == store.RunCancelled })
	w.press(fakeslack.Bob, "deploy.approve", w.approval["production"])
	audits[fakeslack.Bob]++
	e := w.audited(fakeslack.Bob, audits[fakeslack.Bob])
	require.Equal(t, "refused", e.Outcome)
	require.True(t, strings.HasPrefix(e.Detail, "This deploy is not waiting for approval (it is cancelled"), e.Detail)
	require.Empty(t, w.sb.GitHub.Merges())
}
