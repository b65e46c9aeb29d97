//go:build !nosandbox

package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// runBenchFanout declares a SEV1 incident whose stakeholder rule names many channels, posts
// updates to it at once, and times the stakeholder notifications against the fastest Slack's
// limits allow: chat.postMessage takes a burst of 3 per channel and then 1 a second, so k notes
// to every channel need (k − 3) s from the first one, however many channels there are.
func runBenchFanout(ctx context.Context, env environment, args []string) error {
	fs := flag.NewFlagSet("bench fanout", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var bf benchFlags
	bf.register(fs)
	channels := fs.Int("channels", 100, "stakeholder channels")
	updates := fs.Int("updates", 9, "updates posted right after the declaration (each is told to every channel)")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait for every notification")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *channels <= 0 || *updates < 0 {
		return usageError{"--channels must be positive and --updates not negative"}
	}
	b, err := newBench(env, bf)
	if err != nil {
		return err
	}
	defer b.close()

	// The benchmark makes its channels through the Web API as the bot, which joins them so;
	// conversations.create is not limited for that (the incident itself creates one channel,
	// well within Tier 2's burst of 20). Every other limit is Slack's.
	sb, err := b.startSandbox(map[string]int{"conversations.create": 0})
	if err != nil {
		return err
	}
	defer sb.Close()
	ids, err := createChannels(ctx, sb, *channels)
	if err != nil {
		return err
	}
	config := withStakeholders(sb.Config(filepath.Join(b.dir, "opsbot.db")), ids)
	proc, err := b.startOpsbot("opsbot", config)
	if err != nil {
		return err
	}
	defer proc.stop(30 * time.Second)
	if _, err := awaitSocket(ctx, sb.Slack, proc, 30*time.Second); err != nil {
		return err
	}

	changes := sb.Slack.Subscribe(ctx)
	before := sb.Slack.Stats()
	declared := time.Now()
	if _, err := sb.Slack.SlashCommand(ctx, fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev1 Fan-out drill"); err != nil {
		return fmt.Errorf("declaring the incident: %w", err)
	}
	w := fanoutWatch{stakeholders: map[string]int{}, want: 1 + *updates}
	for _, id := range ids {
		w.stakeholders[id] = 0
	}
	deadline := time.After(*timeout)
	incidentChannel := ""
	for incidentChannel == "" {
		select {
		case c, ok := <-changes:
			if !ok {
				return ctx.Err()
			}
			w.see(c)
			if c.Kind == fakeslack.MembersInvited && strings.HasPrefix(c.ChannelName, "inc-") && slices.Contains(c.Members, fakeslack.Carol) {
				incidentChannel = c.ChannelID
			}
		case <-deadline:
			return fmt.Errorf("the incident's channel did not appear within %v (log: %s)", *timeout, proc.log)
		}
	}
	for i := range *updates {
		text := fmt.Sprintf("update monitoring Fix %d is rolling out", i+1)
		if _, err := sb.Slack.SlashCommand(ctx, fakeslack.Carol, incidentChannel, "/incident", text); err != nil {
			return fmt.Errorf("posting update %d: %w", i+1, err)
		}
	}
	for !w.complete() {
		select {
		case c, ok := <-changes:
			if !ok {
				return ctx.Err()
			}
			w.see(c)
		case <-deadline:
			return fmt.Errorf("only %d of %d notifications within %v (log: %s)", w.received, w.want*len(ids), *timeout, proc.log)
		}
	}
	after := sb.Slack.Stats()

	limits := fakeslack.DefaultRateLimits()
	floor := time.Duration(max(0, w.want-limits.PostMessageBurst)) * limits.PostMessageInterval
	spread := w.last.Sub(w.first)
	fmt.Fprintf(env.stdout, "machine: %s\n", machine())
	fmt.Fprintf(env.stdout, "incident: SEV1 told to %d channels, declaration + %d updates = %d notes per channel, %d in all\n",
		len(ids), *updates, w.want, w.want*len(ids))
	fmt.Fprintf(env.stdout, "limits: chat.postMessage burst %d then 1 per %v per channel (no method-wide limit); other methods by tier\n\n",
		limits.PostMessageBurst, limits.PostMessageInterval)
	fmt.Fprintf(env.stdout, "declared → first note: %v\n", w.first.Sub(declared).Round(time.Millisecond))
	fmt.Fprintf(env.stdout, "first → last note:     %v (floor %v", spread.Round(time.Millisecond), floor)
	if floor > 0 {
		fmt.Fprintf(env.stdout, ", ratio %.2f, goal ≤ 1.1", float64(spread)/float64(floor))
	}
	fmt.Fprintln(env.stdout, ")")
	fmt.Fprintf(env.stdout, "declared → last note:  %v\n", w.last.Sub(declared).Round(time.Millisecond))
	fmt.Fprintf(env.stdout, "notes received: %d of %d (lost %d); duplicates: %d\n", w.received, w.want*len(ids), w.want*len(ids)-w.received, w.duplicates)
	fmt.Fprintf(env.stdout, "429s received: %s\n", describeCounts(diffCounts(after.RateLimited, before.RateLimited)))
	fmt.Fprintf(env.stdout, "Web API calls: %s\n", describeCounts(diffCounts(after.Calls, before.Calls)))
	if refused := len(after.Refusals) - len(before.Refusals); refused > 0 {
		fmt.Fprintf(env.stdout, "refused by Slack: %d, first: %+v\n", refused, after.Refusals[len(before.Refusals)])
	}
	return nil
}

// createChannels makes n public channels as the bot, so that it is in them.
func createChannels(ctx context.Context, sb *sandbox.Sandbox, n int) ([]string, error) {
	api := slack.New(fakeslack.BotToken, slack.OptionAPIURL(sb.Slack.APIURL()))
	ids := make([]string, n)
	for i := range n {
		ch, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: fmt.Sprintf("stakeholders-%03d", i+1)})
		if err != nil {
			return nil, fmt.Errorf("creating stakeholder channel %d: %w", i+1, err)
		}
		ids[i] = ch.ID
	}
	return ids, nil
}

// withStakeholders makes SEV1 tell the channels, and no one else, in a sandbox configuration.
func withStakeholders(config string, channels []string) string {
	rule := fmt.Sprintf("incidents:\n  severities:\n    sev1:\n      stakeholders: {channels: [%s], pagerduty_status_update: false}\n",
		strings.Join(channels, ", "))
	return strings.Replace(config, "incidents:\n", rule, 1)
}

// fanoutWatch counts the notes posted to the stakeholder channels.
type fanoutWatch struct {
	stakeholders map[string]int // channel → notes seen
	want         int            // notes per channel
	received     int
	duplicates   int
	first, last  time.Time
}

func (w *fanoutWatch) see(c fakeslack.Change) {
	n, ok := w.stakeholders[c.ChannelID]
	if c.Kind != fakeslack.MessagePosted || !ok {
		return
	}
	if n == w.want {
		w.duplicates++
		return
	}
	w.stakeholders[c.ChannelID] = n + 1
	w.received++
	if w.first.IsZero() {
		w.first = c.At
	}
	w.last = c.At
}

func (w *fanoutWatch) complete() bool { return w.received == w.want*len(w.stakeholders) }

func diffCounts(after, before map[string]int) map[string]int {
	d := map[string]int{}
	for k, v := range after {
		if v-before[k] != 0 {
			d[k] = v - before[k]
		}
	}
	return d
}

func describeCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range counts {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
