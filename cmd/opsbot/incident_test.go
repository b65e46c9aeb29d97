//go:build !nosandbox

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakepagerduty"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/sandbox/fakestatuspage"
	"github.com/opsbot-dev/opsbot/store"
)

// incidentChannel is the channel of the newest incident, once it exists.
func incidentChannel(t *testing.T, r *rig) fakeslack.ChannelInfo {
	t.Helper()
	runs, err := r.app.Store.ListRuns(context.Background(), store.RunQuery{Kinds: []store.RunKind{store.KindIncident}, Limit: 1})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	info, ok := r.sb.Slack.Channel(runs[0].Channel)
	require.True(t, ok, "the incident has its channel")
	return info
}

func TestConsoleIncidentFromDeclareToPostmortem(t *testing.T) {
	t.Parallel()
	r := startTestRig(t)

	declared := transcript(t, r, `
:as carol
:in #incidents
/incident declare sev1 Checkout errors
:wait 30s
`)
	ch := incidentChannel(t, r)
	requireInOrder(t, declared,
		"> /incident declare sev1 Checkout errors",
		"["+"#"+ch.Name+"] (channel created)",
		"(invited @carol)",
		"(pinned by @opsbot) 🔥 *SEV1 · Checkout errors*",
		"idle",
	)
	// Channels are written to side by side, so these come in any order.
	require.Contains(t, declared, "(only you) [#incidents] opsbot: Declared *SEV1 · Checkout errors*")
	require.Contains(t, declared, "[#stakeholders] opsbot: 🔥 *SEV1 · Checkout errors* — declared, investigating")
	require.Contains(t, declared, "[#incidents] opsbot: 🔥 *SEV1 · Checkout errors* · #"+ch.Name)
	require.True(t, strings.HasPrefix(ch.Name, "inc-"+r.clk.Now().UTC().Format("2006")), ch.Name)
	require.True(t, strings.HasSuffix(ch.Name, "-checkout-errors"), ch.Name)
	require.Contains(t, ch.Members, fakeslack.Carol, "the on-call is in the channel")
	pd := r.sb.PagerDuty.Incidents()
	require.Len(t, pd, 1)
	require.Equal(t, fakepagerduty.Triggered, pd[0].Status)
	sp := r.sb.Statuspage.Incidents()
	require.Len(t, sp, 1)
	require.Equal(t, fakestatuspage.Investigating, sp[0].Status)
	for _, c := range r.sb.Statuspage.Components() {
		if c.ID == fakestatuspage.ComponentAPI {
			require.NotEqual(t, fakestatuspage.Operational, c.Status, "the affected component is degraded")
		}
	}

	// A message pinned in the channel reaches the bot as an event and joins the timeline.
	ctx := context.Background()
	ts, _, err := r.sb.Slack.PostAsUser(ctx, fakeslack.Carol, ch.ID, "Error rate jumped at the v1.1.0 deploy", "")
	require.NoError(t, err)
	_, err = r.sb.Slack.Pin(ctx, fakeslack.Carol, ch.ID, ts)
	require.NoError(t, err)

	resolved := transcript(t, r, `
:as carol
:in #`+ch.Name+`
/incident update identified Bad deploy v1.1.0
:wait 30s
:advance 16m
:wait 30s
/incident resolve Rolled back
:wait 60s
`)
	requireInOrder(t, resolved,
		"> /incident update identified Bad deploy v1.1.0",
		"opsbot: 📣 *Identified* — Bad deploy v1.1.0 (@carol)",
		"> :advance 16m",
		"opsbot: ⏰ @carol, no update on this SEV1 for 16 min.",
		"[Post update] [Snooze 15 min]",
		"> /incident resolve Rolled back",
		"opsbot: ✅ *Resolved* by @carol: Rolled back",
		"↳ [#"+ch.Name+"] opsbot: ⏱ *Time to acknowledge:* 2 min (PagerDuty) · *Time to resolve:* 16 min",
		"Error rate jumped at the v1.1.0 deploy",
		"📝 *Postmortem draft*",
		"# Postmortem: SEV1 · Checkout errors",
		"idle",
	)
	require.Contains(t, resolved, "[#stakeholders] opsbot: 🔥 *SEV1 · Checkout errors* — identified")
	require.Contains(t, resolved, "[#stakeholders] opsbot: ✅ *SEV1 · Checkout errors* — resolved")
	pd = r.sb.PagerDuty.Incidents()
	require.Len(t, pd, 1)
	require.Equal(t, fakepagerduty.Resolved, pd[0].Status)
	sp = r.sb.Statuspage.Incidents()
	require.Len(t, sp, 1)
	require.Equal(t, fakestatuspage.Resolved, sp[0].Status)
	for _, c := range r.sb.Statuspage.Components() {
		require.Equal(t, fakestatuspage.Operational, c.Status, c.Name)
	}
	t.Logf("transcript:\n%s%s", declared, resolved)
}

func TestConsoleIncidentFormAndPublishButton(t *testing.T) {
	t.Parallel()
	r := startTestRig(t)
	out := transcript(t, r, `
:as carol
:in #incidents
/incident declare
:submit title="Dashboard is slow" severity=sev2 customer_facing=yes
:wait 30s
`)
	ch := incidentChannel(t, r)
	require.Contains(t, out, "(only you) [#incidents] opsbot: Declared *SEV2 · Dashboard is slow*")
	requireInOrder(t, out,
		"{modal: Declare an incident}",
		"Title: title=…",
		"Severity: severity=sev1|sev2|sev3|sev4",
		"> :submit",
		"SEV2 publishes on the status page only with your OK. Exactly this will be public:",
		"We are investigating an issue affecting API.",
		"[Publish to status page]",
		"idle",
	)
	require.Empty(t, r.sb.Statuspage.Incidents(), "nothing public before the commander's OK")

	out = transcript(t, r, `
:as dave
:in #incidents
:click Resolve
:as carol
:in #`+ch.Name+`
:click Publish to status page
:wait 30s
`)
	requireInOrder(t, out,
		"(only you) [#incidents] opsbot: Only the commander (@carol), @oncall or an admin can resolve this incident.",
		"> :click Publish to status page",
		"@carol published this on the status page",
		"idle",
	)
	require.Len(t, r.sb.Statuspage.Incidents(), 1)
	require.Eventually(t, func() bool {
		entries, err := r.app.Store.ListAudit(context.Background(), store.AuditQuery{Actor: fakeslack.Carol})
		return err == nil && len(entries) >= 3
	}, 5*time.Second, 20*time.Millisecond, "commands, forms and clicks are audited")
}

// A command that waits on a vendor must not hold up the commands behind it. On SQLite the bot
// handles deliveries one at a time while they are quick, and some handlers call a vendor
// before they answer: /release asks GitHub for the newest tag. A modal must be opened within
// 3 s of the click or command that asked for it, so a declaration queued behind a slow GitHub
// would never get its form.
func TestASlowGitHubDoesNotKeepAnIncidentFormFromOpening(t *testing.T) {
	t.Parallel()
	b := startTestBot(t, testBotOptions{})
	b.sb.GitHub.Latency(4 * time.Second)

	b.slash(fakeslack.Alice, fakeslack.Deploys, "/release", "v1.1.0")
	asked := time.Now()
	b.slash(fakeslack.Carol, fakeslack.Incidents, "/incident", "declare")
	require.Eventually(t, func() bool {
		_, open := b.sb.Slack.OpenView(fakeslack.Carol)
		return open
	}, 10*time.Second, 10*time.Millisecond, "Carol's declaration form never opened")
	require.Less(t, time.Since(asked), 3*time.Second, "the form opened after its trigger had expired")
}
