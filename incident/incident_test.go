package incident_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/incident"
	"github.com/opsbot-dev/opsbot/integrations/pagerduty"
	"github.com/opsbot-dev/opsbot/integrations/slackapi"
	"github.com/opsbot-dev/opsbot/integrations/statuspage"
	"github.com/opsbot-dev/opsbot/sandbox/fakepagerduty"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/sandbox/fakestatuspage"
	"github.com/opsbot-dev/opsbot/store"
)

const title = "Checkout errors"

func TestDeclareAppliesTheSeverityRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		severity int
		// what the defaults say each severity does
		paged, published, awaitsOK, toldStakeholders, reminds bool
		urgency, componentStatus                              string
	}{
		{severity: 1, paged: true, published: true, toldStakeholders: true, reminds: true, urgency: "high", componentStatus: fakestatuspage.MajorOutage},
		{severity: 2, paged: true, awaitsOK: true, toldStakeholders: true, reminds: true, urgency: "high"},
		{severity: 3, awaitsOK: true, reminds: true},
		{severity: 4},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("sev%d", tt.severity), func(t *testing.T) {
			t.Parallel()
			b := setup(t, "")
			run := b.declare(t, incident.Declaration{Severity: tt.severity, Title: title})
			ch := channelOf(t, run)

			info, ok := b.slack.Channel(ch)
			require.True(t, ok)
			require.Equal(t, fmt.Sprintf("inc-%s-checkout-errors", b.clock.Now().UTC().Format("20060102")), info.Name)
			require.Contains(t, info.Members, carol, "the declarer (also the on-call) is in the channel")
			require.Contains(t, info.Topic, fmt.Sprintf("SEV%d · investigating · commander <@%s>", tt.severity, carol))
			require.Len(t, b.slack.Pins(ch), 2, "the summary card and the checklist are pinned")
			require.Contains(t, b.texts(fakeslack.Incidents), fmt.Sprintf("SEV%d · Checkout errors* · <#%s>", tt.severity, ch), "announced with a link")

			pd := b.pd.Incidents()
			if tt.paged {
				require.Len(t, pd, 1)
				require.Equal(t, tt.urgency, pd[0].Urgency)
				require.Equal(t, fmt.Sprintf("opsbot-incident-%d", run.ID), pd[0].Key)
				require.Equal(t, fakepagerduty.Carol, pd[0].AssignedTo, "the on-call is paged")
			} else {
				require.Empty(t, pd, "sev%d does not page", tt.severity)
			}

			sp := b.sp.Incidents()
			if tt.published {
				require.Len(t, sp, 1)
				require.Equal(t, fakestatuspage.Investigating, sp[0].Status)
				require.Equal(t, []string{fakestatuspage.ComponentAPI}, sp[0].ComponentIDs)
				require.Equal(t, tt.componentStatus, component(t, b, fakestatuspage.ComponentAPI).Status)
			} else {
				require.Empty(t, sp, "nothing public without an OK")
				require.Equal(t, fakestatuspage.Operational, component(t, b, fakestatuspage.ComponentAPI).Status)
			}
			if tt.awaitsOK {
				require.Contains(t, b.texts(ch), "Publish to status page")
			} else {
				require.NotContains(t, b.texts(ch), "Publish to status page")
			}

			stakeholders := b.texts(fakeslack.Stakeholders)
			if tt.toldStakeholders {
				require.Contains(t, stakeholders, fmt.Sprintf("SEV%d · Checkout errors* — declared, investigating", tt.severity))
				require.Contains(t, stakeholders, "Next update by")
				require.Len(t, pd[0].StatusUpdates, 1, "PagerDuty's subscribers hear it too")
			} else {
				require.Empty(t, stakeholders)
			}

			run = b.run(t, run.ID)
			respond := stepState(t, run, "respond")
			require.Equal(t, store.StepWaiting, respond.State, describe(run))
			if tt.reminds {
				require.Contains(t, respond.Detail, "next reminder to <@"+carol+">")
			} else {
				require.Equal(t, "open until someone resolves it", respond.Detail)
			}
		})
	}
}

func component(t testing.TB, b *testBundle, id string) fakestatuspage.Component {
	t.Helper()
	for _, c := range b.sp.Components() {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no component %s", id)
	return fakestatuspage.Component{}
}

func TestStatusPageWaitsForTheCommandersOK(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	run := b.declare(t, incident.Declaration{Severity: 2, Title: title})
	ch := channelOf(t, run)
	require.Empty(t, b.sp.Incidents())
	request := b.texts(ch)
	require.Contains(t, request, "SEV2 publishes on the status page only with your OK. Exactly this will be public:")
	require.Contains(t, request, "We are investigating an issue affecting API. We will post an update as soon as we know more.")
	first := b.buttonValue(t, ch, "incident.publish")

	_, err := b.svc.Click(b.ctx, actor(dave, ch), "incident.publish", first, "")
	requireRefused(t, err, "Only the commander (<@U0CAROL>), @incident_commander or an admin can publish on the status page for this incident.")

	// An update before the OK: its text replaces the first one.
	_, err = b.svc.Update(b.ctx, actor(carol, ch), run.ID, "identified", "Payments provider is timing out")
	require.NoError(t, err)
	b.settle(t)
	require.Contains(t, b.texts(ch), "superseded by a newer update")
	_, err = b.svc.Click(b.ctx, actor(carol, ch), "incident.publish", first, "")
	requireRefused(t, err, "A newer update replaced this text")
	require.Empty(t, b.sp.Incidents())

	second := b.buttonValue(t, ch, "incident.publish")
	_, err = b.svc.Click(b.ctx, actor(carol, ch), "incident.publish", second, "")
	require.NoError(t, err)
	b.settle(t)
	sp := b.sp.Incidents()
	require.Len(t, sp, 1)
	require.Equal(t, fakestatuspage.Identified, sp[0].Status)
	require.Equal(t, "Payments provider is timing out", sp[0].Updates[len(sp[0].Updates)-1].Body, "exactly the text shown")
	require.Equal(t, fakestatuspage.PartialOutage, component(t, b, fakestatuspage.ComponentAPI).Status)
	require.Contains(t, b.texts(ch), "<@U0CAROL> published this on the status page")

	require.Zero(t, b.countMessages(ch, "Publish to status page"), "the request's button is gone")
	_, err = b.svc.Click(b.ctx, actor(carol, ch), "incident.publish", second, "")
	requireRefused(t, err, "published already")
}

func TestRemindersAndSnooze(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	run := b.declare(t, incident.Declaration{Severity: 1, Title: title})
	ch := channelOf(t, run)
	reminders := func() int { return b.countMessages(ch, "no update on this SEV1") }

	b.clock.Advance(10 * time.Minute)
	b.settle(t)
	_, err := b.svc.Update(b.ctx, actor(carol, ch), run.ID, "identified", "Bad deploy v1.1.0")
	require.NoError(t, err)
	b.settle(t)
	b.clock.Advance(10 * time.Minute)
	b.settle(t)
	require.Zero(t, reminders(), "the update started the 15 minutes again")

	b.clock.Advance(6 * time.Minute)
	b.settle(t)
	require.Equal(t, 1, reminders(), "16 minutes without an update")
	require.Contains(t, b.texts(ch), "<@U0CAROL>, no update on this SEV1 for 16 min")

	_, err = b.svc.Click(b.ctx, actor(dave, ch), "incident.snooze", b.buttonValue(t, ch, "incident.snooze"), "")
	requireRefused(t, err, "Only the commander")
	_, err = b.svc.Click(b.ctx, actor(carol, ch), "incident.snooze", b.buttonValue(t, ch, "incident.snooze"), "")
	require.NoError(t, err)
	b.settle(t)
	require.Contains(t, b.texts(ch), "snoozed by <@U0CAROL>")

	b.clock.Advance(14 * time.Minute)
	b.settle(t)
	require.Equal(t, 0, reminders(), "snoozed for 15 minutes (the first reminder now says so)")
	b.clock.Advance(2 * time.Minute)
	b.settle(t)
	require.Equal(t, 1, reminders(), "the snooze is over")
}

func TestPinnedMessagesJoinTheTimeline(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	run := b.declare(t, incident.Declaration{Severity: 1, Title: title})
	ch := channelOf(t, run)
	_, err := b.api.InviteUsersToConversation(ch, alice, bob)
	require.NoError(t, err)

	// People talk; later someone pins one message and marks another with :pushpin:. The
	// sandbox sends the bot the events, which the commands package hands over as Marks.
	posted := b.clock.Now()
	found, _, err := b.slack.PostAsUser(b.ctx, alice, ch, "Errors started right after the v1.1.0 deploy", "")
	require.NoError(t, err)
	fix, _, err := b.slack.PostAsUser(b.ctx, bob, ch, "Rolling back @alice's deploy now", "")
	require.NoError(t, err)
	b.clock.Advance(7 * time.Minute)
	_, err = b.slack.Pin(b.ctx, carol, ch, found)
	require.NoError(t, err)
	_, err = b.slack.React(b.ctx, carol, ch, fix, "pushpin")
	require.NoError(t, err)
	for _, m := range []incident.Mark{
		{ChannelID: ch, TS: found, By: carol},
		{ChannelID: ch, TS: fix, By: carol},
		{ChannelID: ch, TS: found, By: bob},                  // pinned and reacted to: recorded once
		{ChannelID: fakeslack.Deploys, TS: found, By: carol}, // not an incident channel
		{ChannelID: ch, TS: found, By: fakeslack.BotUserID},  // the bot pinning its card
		{ChannelID: ch, TS: "1700000000.000001", By: carol},  // deleted since
	} {
		require.NoError(t, b.svc.RecordMark(b.ctx, m))
	}

	events, err := b.store.ListRunEvents(b.ctx, run.ID)
	require.NoError(t, err)
	var pins []store.RunEvent
	for _, ev := range events {
		if ev.Kind == "pin" {
			pins = append(pins, ev)
		}
	}
	require.Len(t, pins, 2)
	require.Contains(t, pins[0].Text, "Errors started right after the v1.1.0 deploy — <@U0ALICE>")
	require.Contains(t, pins[1].Text, "Rolling back @\u200balice's deploy now", "a mention in a pinned message notifies nobody again")
	at, err := slackapi.TSTime(found)
	require.NoError(t, err)
	require.Equal(t, at, pins[0].At, "at the message's own time, not the pin's")
	require.WithinDuration(t, posted, pins[0].At, time.Minute)

	_, err = b.svc.Resolve(b.ctx, actor(carol, ch), run.ID, "Rolled back")
	require.NoError(t, err)
	b.settle(t)
	require.Contains(t, b.texts(ch), "Errors started right after the v1.1.0 deploy", "the final timeline lists it")
	require.Contains(t, b.texts(ch), "- "+at.Format("15:04")+" 📌 Errors started right after the v1.1.0 deploy — @alice (marked by @carol)",
		"the postmortem draft names people by handle")
}

func TestResolveClosesEverythingAndDraftsThePostmortem(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	run := b.declare(t, incident.Declaration{Severity: 1, Title: title})
	ch := channelOf(t, run)
	b.clock.Advance(3 * time.Minute) // carol acknowledges after 2
	b.settle(t)

	_, err := b.svc.Resolve(b.ctx, actor(dave, ch), run.ID, "")
	requireRefused(t, err, "Only the commander (<@U0CAROL>), @incident_commander or an admin can resolve this incident.")
	_, err = b.svc.Followup(b.ctx, actor(dave, ch), run.ID, "Alert on checkout error rate")
	require.NoError(t, err)
	_, err = b.svc.Resolve(b.ctx, actor(carol, ch), run.ID, "Rolled back to v1.0.0")
	require.NoError(t, err)
	b.settle(t)

	run = b.run(t, run.ID)
	require.Equal(t, store.RunSucceeded, run.State, describe(run))
	pd := b.pd.Incidents()
	require.Len(t, pd, 1)
	require.Equal(t, fakepagerduty.Resolved, pd[0].Status)
	sp := b.sp.Incidents()
	require.Len(t, sp, 1)
	require.Equal(t, fakestatuspage.Resolved, sp[0].Status)
	require.Equal(t, "Rolled back to v1.0.0", sp[0].Updates[len(sp[0].Updates)-1].Body)
	require.Equal(t, fakestatuspage.Operational, component(t, b, fakestatuspage.ComponentAPI).Status)
	require.Contains(t, b.texts(fakeslack.Stakeholders), "SEV1 · Checkout errors* — resolved")

	thread := b.texts(ch)
	for _, want := range []string{
		"*Time to acknowledge:* 2 min (PagerDuty) · *Time to resolve:* 3 min",
		"*Timeline* of SEV1 · Checkout errors",
		"# Postmortem: SEV1 · Checkout errors",
		"## Deploys around the start",
		"## What went well",
		"- [ ] Alert on checkout error rate (@dave)",
	} {
		require.Contains(t, thread, want)
	}
	_, err = b.svc.Update(b.ctx, actor(carol, ch), run.ID, "monitoring", "late")
	requireRefused(t, err, "is resolved")

	// A follow-up after the draft is in the draft too.
	_, err = b.svc.Followup(b.ctx, actor(carol, ch), run.ID, "Canary deploys for checkout")
	require.NoError(t, err)
	b.settle(t)
	require.Contains(t, b.texts(ch), "- [ ] Canary deploys for checkout (@carol)")
}

func TestPagingPeopleAndRaisingTheSeverity(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	run := b.declare(t, incident.Declaration{Severity: 3, Title: title})
	ch := channelOf(t, run)
	require.Empty(t, b.pd.Incidents(), "sev3 does not page")

	_, err := b.svc.Page(b.ctx, actor(dave, ch), run.ID, bob, "")
	requireRefused(t, err, "can page people for this incident")
	_, err = b.svc.Page(b.ctx, actor(carol, ch), run.ID, "", "billing")
	requireRefused(t, err, `There is no service "billing" to page. Known: analytics.`)
	_, err = b.svc.Page(b.ctx, actor(carol, ch), run.ID, bob, "")
	require.NoError(t, err)
	b.settle(t)
	pd := b.pd.Incidents()
	require.Len(t, pd, 1, "paging a person opens the PagerDuty incident")
	require.Len(t, pd[0].Responders, 1)
	require.Equal(t, fakepagerduty.Bob, pd[0].Responders[0].UserID)
	info, _ := b.slack.Channel(ch)
	require.Contains(t, info.Members, bob, "whoever is paged is invited")
	require.Contains(t, b.texts(ch), "asked to page <@U0BOB>: asked to respond to")
	_, err = b.svc.Page(b.ctx, actor(carol, ch), run.ID, "", "analytics")
	require.NoError(t, err)
	b.settle(t)
	pd = b.pd.Incidents()
	require.Len(t, pd, 1)
	require.Len(t, pd[0].Responders, 2, "the service's on-call (carol) is asked too")
	require.Contains(t, b.texts(ch), "asked to page the on-call of analytics: asked to respond to")

	_, err = b.svc.SetSeverity(b.ctx, actor(bob, ch), run.ID, 1)
	requireRefused(t, err, "can change the severity of this incident")
	_, err = b.svc.SetSeverity(b.ctx, actor(carol, ch), run.ID, 1)
	require.NoError(t, err)
	b.settle(t)
	require.Len(t, b.pd.Incidents(), 1, "the incident already pages; raising it opens no second one")
	sp := b.sp.Incidents()
	require.Len(t, sp, 1, "sev1 publishes at once what waited for an OK under sev3")
	require.Equal(t, fakestatuspage.MajorOutage, component(t, b, fakestatuspage.ComponentAPI).Status)
	require.Contains(t, b.texts(fakeslack.Stakeholders), "SEV1 · Checkout errors* — severity changed to SEV1")
	run = b.run(t, run.ID)
	require.Equal(t, "SEV1 · Checkout errors", run.Title)

	_, err = b.svc.AssignRole(b.ctx, actor(carol, ch), run.ID, "comms", dave)
	require.NoError(t, err)
	_, err = b.svc.SetCommander(b.ctx, actor(carol, ch), run.ID, alice)
	require.NoError(t, err)
	b.settle(t)
	info, _ = b.slack.Channel(ch)
	require.Contains(t, info.Members, dave)
	require.Contains(t, info.Members, alice)
	require.Contains(t, info.Topic, "commander <@U0ALICE>")
	_, err = b.svc.Update(b.ctx, actor(dave, ch), run.ID, "monitoring", "Comms can post updates")
	require.NoError(t, err, "a role holder speaks for the incident")
}

func TestPagingThroughTheEventsAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, strings.Replace(testConfig, "    from: opsbot@example.com\n", "    from: opsbot@example.com\n    trigger: event\n", 1))
	run := b.declare(t, incident.Declaration{Severity: 1, Title: title})
	pd := b.pd.Incidents()
	require.Len(t, pd, 1)
	require.Equal(t, fmt.Sprintf("opsbot-incident-%d", run.ID), pd[0].Key, "the dedup key finds it again")
	require.Contains(t, stepState(t, b.run(t, run.ID), "page").Detail, "PagerDuty #1")
}

func TestDrillsStayOffRealPagersAndStatusPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		realVendors bool
	}{
		{"sandbox vendors are used", false},
		{"real vendors are skipped", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newWorld(t, "")
			b.start(t, processHooks{realVendors: tt.realVendors})
			run := b.declare(t, incident.Declaration{Severity: 1, Title: title, Drill: true})
			ch := channelOf(t, run)
			info, _ := b.slack.Channel(ch)
			require.True(t, strings.HasPrefix(info.Name, "inc-drill-"), info.Name)
			for _, channel := range []string{ch, fakeslack.Incidents, fakeslack.Stakeholders} {
				for _, m := range b.slack.Messages(channel) {
					require.Contains(t, fakeslack.Shown(m.Text, m.Blocks), "DRILL", "every message of a drill says so")
				}
			}
			run = b.run(t, run.ID)
			if tt.realVendors {
				require.Empty(t, b.pd.Incidents())
				require.Empty(t, b.sp.Incidents())
				require.Equal(t, "drill — not sent to real pagers", stepState(t, run, "page").Detail)
				require.Equal(t, "drill — not published on the real status page", stepState(t, run, "status_page").Detail)
				return
			}
			require.Len(t, b.pd.Incidents(), 1)
			require.True(t, strings.HasPrefix(b.pd.Incidents()[0].Title, "[DRILL] "))
			require.Len(t, b.sp.Incidents(), 1)
			require.Equal(t, "[DRILL] Checkout errors", b.sp.Incidents()[0].Name)
		})
	}
}

// The clients below kill their process right after their effect, as a crash at the worst
// moment would: the step's outcome is never recorded, and the next process runs it again.

type crashAfterChannel struct {
	incident.Slack
	kill func()
}

func (c crashAfterChannel) CreateChannel(ctx context.Context, name string) (slackapi.Channel, error) {
	ch, err := c.Slack.CreateChannel(ctx, name)
	c.kill()
	<-ctx.Done()
	return ch, err
}

type crashAfterPage struct {
	incident.PagerDuty
	kill func()
}

func (c crashAfterPage) TriggerIncident(ctx context.Context, tr pagerduty.Trigger) (pagerduty.Incident, error) {
	inc, err := c.PagerDuty.TriggerIncident(ctx, tr)
	c.kill()
	<-ctx.Done()
	return inc, err
}

type crashAfterPublish struct {
	incident.Statuspage
	kill func()
}

func (c crashAfterPublish) CreateIncident(ctx context.Context, n statuspage.NewIncident) (statuspage.Incident, error) {
	inc, err := c.Statuspage.CreateIncident(ctx, n)
	c.kill()
	<-ctx.Done()
	return inc, err
}

func TestRestartInTheMiddleOfDeclaringDoesNothingTwice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wrap func(o *incident.Options, p *process)
	}{
		{"after creating the channel", func(o *incident.Options, p *process) { o.Slack = crashAfterChannel{o.Slack, p.kill} }},
		{"after paging", func(o *incident.Options, p *process) { o.PagerDuty = crashAfterPage{o.PagerDuty, p.kill} }},
		{"after publishing", func(o *incident.Options, p *process) { o.Statuspage = crashAfterPublish{o.Statuspage, p.kill} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newWorld(t, "")
			b.start(t, processHooks{wrap: tt.wrap})
			_, err := b.svc.Declare(b.ctx, actor(carol, fakeslack.Incidents), incident.Declaration{Severity: 1, Title: title})
			require.NoError(t, err)
			b.untilKilled(t)

			b.start(t, processHooks{})
			b.settle(t)
			run := b.latest(t)
			require.Equal(t, store.StepWaiting, stepState(t, run, "respond").State, describe(run))
			require.Equal(t, 1, b.channelsNamed(t, "inc-"), "one incident channel")
			require.Len(t, b.pd.Incidents(), 1, "one PagerDuty incident")
			require.Len(t, b.sp.Incidents(), 1, "one status page incident")
			require.Len(t, b.sp.Incidents()[0].Updates, 1, "published once")
			require.Equal(t, 1, strings.Count(b.texts(fakeslack.Stakeholders), "declared, investigating"), "stakeholders told once")
			require.Len(t, b.pd.Incidents()[0].StatusUpdates, 1, "one PagerDuty status update")
		})
	}
}

// untilKilled lets the first process work (sending its outbox) until it is killed.
func (b *testBundle) untilKilled(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-b.dead:
			return
		default:
		}
		b.flush(t)
		if b.runner.Idle(b.ctx, 0) {
			if next := b.nextSystemWake(t); next != nil {
				b.clock.Advance(next.Sub(b.clock.Now()) + time.Millisecond)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the process was never killed")
}

func TestCommandsRunByTheirChannel(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	_, err := b.svc.InChannel(b.ctx, fakeslack.Deploys)
	requireRefused(t, err, "no incident is open")
	run := b.declare(t, incident.Declaration{Severity: 2, Title: title})
	ch := channelOf(t, run)

	id, err := b.svc.InChannel(b.ctx, ch)
	require.NoError(t, err)
	require.Equal(t, run.ID, id)
	_, err = b.svc.InChannel(b.ctx, fakeslack.Deploys)
	requireRefused(t, err, "This is not an incident channel: type it in the incident's channel (<#"+ch+">).")

	list, err := b.svc.List(b.ctx)
	require.NoError(t, err)
	require.Contains(t, list.Text, "*SEV2 · Checkout errors* — investigating · commander <@U0CAROL> · <#"+ch+">")
	status, err := b.svc.Status(b.ctx, actor(dave, fakeslack.Deploys))
	require.NoError(t, err)
	require.Contains(t, status.Text, "Open incidents", "outside an incident channel, status lists them")
	status, err = b.svc.Status(b.ctx, actor(dave, ch))
	require.NoError(t, err)
	blocks, err := status.BlocksJSON()
	require.NoError(t, err)
	require.Contains(t, fakeslack.Shown(status.Text, blocks), "Commander <@U0CAROL> · status *investigating*")
}

func TestRecentDeploysCanBeRolledBack(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	deployed := func(env, version string) {
		run, err := b.store.CreateRun(b.ctx, store.Run{
			Kind: store.KindDeploy, Env: env, State: store.RunRunning, RequestedBy: alice,
			Title: "Deploy " + version + " → " + env, Data: []byte(`{"version":"` + version + `"}`),
		})
		require.NoError(t, err)
		_, err = b.store.UpdateRun(b.ctx, run.ID, func(r *store.Run) error { r.State = store.RunSucceeded; return nil })
		require.NoError(t, err)
	}
	deployed("production", "v0.9.0")
	b.clock.Advance(25 * time.Hour)
	deployed("staging", "v1.1.0")
	deployed("production", "v1.0.0")
	b.clock.Advance(time.Hour)

	run := b.declare(t, incident.Declaration{Severity: 1, Title: title})
	ch := channelOf(t, run)
	require.Contains(t, b.texts(ch), "*Recent production deploys* (24 h before the incident)")
	require.Contains(t, b.texts(ch), "• *v1.0.0* deployed")
	require.NotContains(t, b.texts(ch), "v0.9.0", "older than 24 h")
	require.NotContains(t, b.texts(ch), "v1.1.0", "not production")
	require.Equal(t, "production", b.buttonValue(t, ch, "deploy.rollback"), "the deploy domain's button names the environment")
	require.Contains(t, stepState(t, b.run(t, run.ID), "card").Detail, "1 production deploys in the 24 h before")

	list, err := b.svc.Click(b.ctx, actor(carol, ch), "incident.deploys", fmt.Sprint(run.ID), "")
	require.NoError(t, err)
	blocks, err := list.BlocksJSON()
	require.NoError(t, err)
	require.Contains(t, fakeslack.Shown(list.Text, blocks), "*v1.0.0* deployed", "the card's Roll back button lists them again")
}

func TestChecklistNeedsPeopleForWhatTheBotCannotDo(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	run := b.declare(t, incident.Declaration{Severity: 1, Title: title})
	ch := channelOf(t, run)
	require.Contains(t, b.texts(ch), "☑ Notify stakeholders — opsbot: told <#C0STAKE>")
	require.Contains(t, b.texts(ch), "☑ Update status page — opsbot: published")

	_, err := b.svc.Click(b.ctx, actor(carol, ch), "incident.check", fmt.Sprintf("%d:assess", run.ID), "")
	requireRefused(t, err, "ticked by opsbot when it has done it")
	_, err = b.svc.Click(b.ctx, actor(dave, ch), "incident.check", fmt.Sprintf("%d:fix", run.ID), "")
	requireRefused(t, err, "can tick the checklist of this incident")
	_, err = b.svc.Click(b.ctx, actor(carol, ch), "incident.check", fmt.Sprintf("%d:fix", run.ID), "")
	require.NoError(t, err)
	b.settle(t)
	require.Contains(t, b.texts(ch), "☑ Implement fix or rollback — <@U0CAROL>")
	again, err := b.svc.Click(b.ctx, actor(carol, ch), "incident.check", fmt.Sprintf("%d:fix", run.ID), "")
	require.NoError(t, err)
	require.Equal(t, "Implement fix or rollback was ticked already.", again.Text)
}

func TestVendorsThatFailDoNotStopTheIncident(t *testing.T) {
	t.Parallel()
	t.Run("transient errors are retried", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "")
		require.NoError(t, b.pd.Fail(fakepagerduty.Fault500, 3))
		require.NoError(t, b.sp.Fail(fakestatuspage.Fault429, 3))
		run := b.declare(t, incident.Declaration{Severity: 1, Title: title})
		run = b.run(t, run.ID)
		require.Equal(t, store.StepPassed, stepState(t, run, "page").State, describe(run))
		require.Equal(t, store.StepPassed, stepState(t, run, "status_page").State, describe(run))
		require.Len(t, b.pd.Incidents(), 1)
		require.Len(t, b.sp.Incidents(), 1)
	})
	t.Run("a refusal is reported and the rest goes on", func(t *testing.T) {
		t.Parallel()
		b := setup(t, strings.Replace(testConfig, "service_id: PSANDBOX", "service_id: PNOSUCH", 1))
		run := b.declare(t, incident.Declaration{Severity: 1, Title: title})
		run = b.run(t, run.ID)
		page := stepState(t, run, "page")
		require.Equal(t, store.StepSkipped, page.State, describe(run))
		require.Contains(t, page.Detail, "paging the on-call failed: ")
		require.Contains(t, page.Detail, "— page them yourself: /incident page @PERSON", "the card says how to page by hand")
		require.Empty(t, b.pd.Incidents())
		require.Equal(t, store.StepPassed, stepState(t, run, "stakeholders").State, "the stakeholders are told all the same")
		require.Contains(t, b.texts(fakeslack.Stakeholders), "SEV1 · Checkout errors* — declared")
	})
	t.Run("a status page that keeps failing is given up on, and the card says so", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "")
		require.NoError(t, b.sp.Fail(fakestatuspage.Fault500, 50))
		run := b.declare(t, incident.Declaration{Severity: 1, Title: title})
		run = b.run(t, run.ID)
		published := stepState(t, run, "status_page")
		require.Equal(t, store.StepSkipped, published.State, describe(run))
		require.Contains(t, published.Detail, "publishing on the status page failed: ")
		require.Contains(t, published.Detail, "— the next /incident update tries again")
		require.Equal(t, store.StepPassed, stepState(t, run, "stakeholders").State, "the stakeholders are told all the same")
		require.Empty(t, b.sp.Incidents())

		b.sp.Clear()
		_, err := b.svc.Update(b.ctx, actor(carol, channelOf(t, run)), run.ID, "identified", "Bad cache config, rolling back")
		require.NoError(t, err)
		b.settle(t)
		require.Len(t, b.sp.Incidents(), 1, "the next update publishes: %s", describe(b.run(t, run.ID)))
	})
}

func TestResponderAndStakeholderRulesReachGroupsAndPeople(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig+`
  severities:
    sev1:
      responders: {users: [U0BOB], groups: [S0DEPLOYERS]}
      stakeholders: {groups: [S0OWNERS], users: [U0DAVE]}
`)
	run := b.declare(t, incident.Declaration{Severity: 1, Title: title})
	ch := channelOf(t, run)
	info, _ := b.slack.Channel(ch)
	require.Subset(t, info.Members, []string{carol, bob, alice}, "the declarer, the on-call, and the responders (alice through her group)")

	stakeholders := b.texts(fakeslack.Stakeholders)
	require.Contains(t, stakeholders, "<!subteam^S0OWNERS> 🔥 *SEV1 · Checkout errors* — declared", "the group is notified")
	dm, err := b.store.GetOutbox(b.ctx, fmt.Sprintf("run:%d:tell:1:%s", run.ID, dave))
	require.NoError(t, err, "dave is told in a direct message")
	require.Equal(t, dave, dm.Channel, "chat.postMessage to a user ID is a direct message from the app")
	require.Contains(t, dm.Text, "SEV1 · Checkout errors* — declared")
}
