//go:build chaos && !nosandbox

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// TestSlackFloodIsHandledOnceAndAckedInTime sends 10,000 envelopes — slash commands and clicks
// on an incident card's button — from 16 people at once, with 5 % of them delivered twice and
// the Socket Mode connection asked to reconnect or dropped outright every thousand. Every
// command must be handled (audited) exactly once and acknowledged within Slack's 3 s.
func TestSlackFloodIsHandledOnceAndAckedInTime(t *testing.T) {
	const (
		envelopes = 10_000
		senders   = 16
		faultsAt  = 1_000 // a reconnect or a dropped socket every this many envelopes
	)
	b := startTestBot(t, testBotOptions{quiet: true})
	ctx := context.Background()

	b.slash(fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev3 Flood drill")
	incidentCh := b.run(store.KindIncident, "SEV3 · Flood drill", stepIs("respond", store.StepWaiting)).Channel
	require.Eventually(t, func() bool { return len(b.sb.Slack.Pins(incidentCh)) == 2 }, waitFor, tick, "the card is pinned")
	base := b.sb.Slack.Stats()

	// Each envelope is one of these, by its number.
	type kind struct {
		user, channel, command, text, button, audit string
	}
	kindOf := func(i int) kind {
		switch i % 10 {
		case 0, 1, 2, 3:
			return kind{user: fakeslack.Alice, channel: fakeslack.Deploys, command: "/deploy", text: "status", audit: "/deploy status"}
		case 4, 5, 6:
			return kind{user: fakeslack.Carol, channel: fakeslack.Incidents, command: "/incident", text: "list", audit: "/incident list"}
		case 7, 8:
			return kind{user: fakeslack.Carol, channel: incidentCh, button: "Roll back recent deploy", audit: "click incident.deploys"}
		}
		// A mistake with a number in it: its audit entry names this very envelope.
		text := fmt.Sprintf("flood-%d", i)
		return kind{user: fakeslack.Alice, channel: fakeslack.Deploys, command: "/deploy", text: text, audit: "/deploy " + text}
	}

	var (
		next, faults, inFlightAtDrops atomic.Int64
		mu                            sync.Mutex
		unacked                       []string
		sent                          = map[string]int{}
		senderGroup                   sync.WaitGroup
	)
	started := time.Now()
	for range senders {
		senderGroup.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= envelopes {
					return
				}
				if i%faultsAt == faultsAt/2 {
					if faults.Add(1)%2 == 0 {
						inFlightAtDrops.Add(int64(b.sb.Slack.Outstanding()))
						b.sb.Slack.DropSockets()
					} else {
						b.sb.Slack.Disconnect(fakeslack.DisconnectRefreshRequested)
					}
				}
				if rand.IntN(100) < 5 {
					b.sb.Slack.DuplicateNext(1)
				}
				k := kindOf(i)
				var d fakeslack.Delivery
				var err error
				if k.button != "" {
					d, err = b.sb.Slack.Click(ctx, k.user, k.channel, k.button)
				} else {
					d, err = b.sb.Slack.SlashCommand(ctx, k.user, k.channel, k.command, k.text)
				}
				mu.Lock()
				sent[k.audit]++
				if err != nil || !d.Acked {
					unacked = append(unacked, fmt.Sprintf("#%d %s: err %v, dispatch failed %t, retries %d", i, k.audit, err, d.DispatchFailed, d.Retries))
				}
				mu.Unlock()
			}
		})
	}
	senderGroup.Wait()
	sending := time.Since(started)

	// Every envelope is audited once: wait for the count, then make sure no more come.
	handled := func() map[string]int {
		counts := map[string]int{}
		for _, user := range []string{fakeslack.Alice, fakeslack.Carol} {
			entries, err := b.app.Store.ListAudit(ctx, store.AuditQuery{Actor: user, Since: started, Limit: 2 * envelopes})
			require.NoError(t, err)
			for _, e := range entries {
				counts[e.Action]++
			}
		}
		return counts
	}
	var counts map[string]int
	require.Eventually(t, func() bool {
		counts = handled()
		return envelopesIn(counts) >= envelopes
	}, 2*time.Minute, 100*time.Millisecond, "not every envelope was handled")
	handling := time.Since(started)
	require.Eventually(t, func() bool { return b.app.Bot.Idle(ctx) || b.sb.Slack.Outstanding() == 0 }, waitFor, tick)
	counts = handled()

	stats := b.sb.Slack.Stats()
	require.Empty(t, unacked, "every envelope is acknowledged")
	// Each numbered mistake is an action of its own, so this also proves each of them was
	// handled exactly once.
	require.Equal(t, sent, counts, "every command and click is handled exactly once (audit entries by action)")
	duplicates, retries := stats.Duplicates-base.Duplicates, stats.Retries-base.Retries
	late, expired := stats.LateAcks-base.LateAcks, stats.Expired-base.Expired
	acked := slices.Clone(stats.AckLatencies[len(base.AckLatencies):])
	t.Logf("flood: %d envelopes (%d delivered twice on purpose) from %d senders in %s, all handled in %s; %d reconnects asked, %d sockets dropped",
		envelopes, duplicates, senders, sending.Round(time.Millisecond), handling.Round(time.Millisecond), (faults.Load()+1)/2, faults.Load()/2)
	t.Logf("flood: audit entries %d for %d envelopes: /deploy status %d, /incident list %d, clicks %d, numbered mistakes %d (each once)",
		envelopesIn(counts), envelopes, counts["/deploy status"], counts["/incident list"], counts["click incident.deploys"],
		envelopesIn(counts)-counts["/deploy status"]-counts["/incident list"]-counts["click incident.deploys"])
	t.Logf("flood: acks p50 %s, p99 %s, max %s over %d acks; re-deliveries after a missed deadline %d, late acks %d, expired %d, envelopes in flight when a socket dropped %d",
		fakeslack.Stats{AckLatencies: acked}.AckLatency(0.5), fakeslack.Stats{AckLatencies: acked}.AckLatency(0.99),
		slices.Max(acked), len(acked), retries, late, expired, inFlightAtDrops.Load())
	require.Zero(t, expired, "no envelope expires unacknowledged")
	require.LessOrEqual(t, int64(late), inFlightAtDrops.Load(),
		"an ack is late only for an envelope caught in a dropped socket (Slack re-delivers it after 3 s): %q", stats.AckErrors)
}

func envelopesIn(counts map[string]int) int {
	total := 0
	for _, n := range counts {
		total += n
	}
	return total
}
