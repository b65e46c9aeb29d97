//go:build !nosandbox

package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// TestConsoleVerificationFailsAndRollsBack is the story in the console: v1.0.0 deploys
// and verifies green; v1.1.0 deploys while the targets are unhealthy, fails verification, and
// the on-call rolls production back to v1.0.0, which verifies green again.
func TestConsoleVerificationFailsAndRollsBack(t *testing.T) {
	t.Parallel()
	r := startTestRig(t)
	if r.sb.AWS == nil {
		t.Skip("skipping: the sandbox has no AWS without the API descriptions (set OPSBOT_SPECS_DIR)")
	}

	out := transcript(t, r, `
:as alice
/release v1.0.0
/deploy v1.0.0
:as bob
:click Mark done
:click Mark done
:click Mark done
:click Mark done
:click Approve
:click Approve v1.0.0
:wait 60s
:fault health unhealthy
:as alice
/release v1.1.0
/deploy v1.1.0
:advance 25h
:as bob
:click Mark done
:click Mark done
:click Mark done
:click Mark done
:click Approve
:click Approve v1.1.0
:wait 60s
:as carol
:click Roll back
:fault clear
:click Confirm
:wait 60s
`)
	t.Logf("transcript:\n%s", out)
	// The card's updates and the thread's replies reach Slack side by side, so only what one
	// message says, or what follows an action, is checked in order.
	requireInOrder(t, out,
		"> /deploy v1.0.0",
		"☑ Monitoring alerts have been configured — opsbot: 2 alarms configured: analytics-5xx, analytics-latency",
		"> :click Approve v1.0.0",
		"✅ v1.0.0 is deployed to production.",
		"✅ *Verification* — 10 checks passed over 6 s (3 samples)",
		"Target health (2 groups)   6/6 healthy",
		"> :fault health unhealthy",
		"> /deploy v1.1.0",
		"> :advance 25h",
		"> :click Approve v1.1.0",
		"🔴 *v1.1.0 failed verification in production*: Target health (2 groups) 4/6 healthy; Health URL 503 Service Unavailable; Pingdom down.",
		"❌ *Verification* — Target health (2 groups) 4/6 healthy; Health URL 503 Service Unavailable; Pingdom down",
		"Target health (2 groups)   4/6 healthy",
		"[Roll back]",
		"> :as carol",
		"> :click Roll back",
		"(only you) [#deploys] opsbot: ↩️ *Roll back production?*",
		"Now: v1.1.0 (failed verification: Target health (2 groups) 4/6 healthy; Health URL 503 Service Unavailable; Pingdom down)",
		"To: v1.0.0 — the newest version that passed verification (deployed ",
		"by @alice)",
		"[Confirm] [Cancel]",
		"> :click Confirm",
		"↩️ *Roll back production → v1.0.0*",
		"✅ production is back on v1.0.0, verified.",
		"requested by @carol",
		"✅ *Stable tag* — v1.0.0 on ",
		"✅ *Verification* — 10 checks passed over 6 s (3 samples)",
		"> :wait 60s",
		"idle",
	)
	require.Contains(t, out, "↳ [#deploys] opsbot: 🚨 @alice @oncall v1.1.0 failed verification in production.\n"+
		"        • *Target health (2 groups)*: i-0a1b2c3d4e5f60001:8080 unhealthy (Target.FailedHealthChecks), i-0a1b2c3d4e5f60004:9090 unhealthy (Target.FailedHealthChecks)",
		"the deployer and the on-call hear what failed")
	require.Contains(t, out, "(only you) [#deploys] opsbot: Rolling production back from v1.1.0 to v1.0.0; follow it on the card in #deploys.")

	gh := r.sb.GitHub
	var dispatched int
	for _, wr := range gh.WorkflowRuns() {
		if wr.Event == "workflow_dispatch" && wr.Tag == "v1.0.0" {
			dispatched++
			require.Equal(t, "success", wr.Conclusion)
		}
	}
	require.Equal(t, 1, dispatched, "the rollback dispatched the workflow on v1.0.0 once")
	last := map[string][]string{}
	for _, dep := range gh.Deployments() {
		if dep.Environment == "production" && (dep.Ref == "v1.0.0" || dep.Ref == "v1.1.0") {
			last[dep.Ref] = append(last[dep.Ref], dep.Statuses[len(dep.Statuses)-1].State)
		}
	}
	require.Equal(t, map[string][]string{"v1.0.0": {"success", "success"}, "v1.1.0": {"failure"}}, last,
		"v1.0.0 deployed and rolled back to, both verified; v1.1.0 failed")

	entries, err := r.app.Store.ListAudit(context.Background(), store.AuditQuery{Actor: fakeslack.Carol})
	require.NoError(t, err)
	audited := map[string]string{}
	for _, e := range entries {
		audited[e.Action] = e.Outcome
	}
	require.Equal(t, map[string]string{"click deploy.rollback": "ok", "click deploy.rollback.confirm": "ok"}, audited,
		"the rollback is audited: who asked, who confirmed")
}
