package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/store"
)

func post(key, channel string) store.OutboxMessage {
	return store.OutboxMessage{Key: key, Op: store.OpPost, Channel: channel, Text: "text of " + key}
}

func card(key, channel, text string) store.OutboxMessage {
	m := post(key, channel)
	m.Upsert, m.Text = true, text
	m.Blocks = json.RawMessage(fmt.Sprintf(`[{"type":"section","text":{"type":"mrkdwn","text":%q}}]`, text))
	return m
}

func ephemeral(key, channel, user string) store.OutboxMessage {
	return store.OutboxMessage{Key: key, Op: store.OpEphemeral, Channel: channel, User: user, Text: "text of " + key}
}

func reply(key, channel, parent string) store.OutboxMessage {
	m := post(key, channel)
	m.ThreadOf = parent
	return m
}

func (b *bundle) enqueue(t *testing.T, m store.OutboxMessage) store.OutboxMessage {
	t.Helper()
	stored, err := b.store.Enqueue(t.Context(), m)
	require.NoError(t, err)
	return stored
}

// claim claims everything owner may send at now and returns it by key.
func (b *bundle) claim(t *testing.T, owner string, now time.Time) map[string]store.OutboxMessage {
	t.Helper()
	claimed, err := b.store.ClaimOutbox(t.Context(), owner, now, time.Minute, 100)
	require.NoError(t, err)
	byKey := map[string]store.OutboxMessage{}
	for _, m := range claimed {
		byKey[m.Key] = m
	}
	return byKey
}

func (b *bundle) claimKeys(t *testing.T, owner string, now time.Time) []string {
	t.Helper()
	claimed, err := b.store.ClaimOutbox(t.Context(), owner, now, time.Minute, 100)
	require.NoError(t, err)
	var keys []string
	for _, m := range claimed {
		keys = append(keys, m.Key)
	}
	return keys
}

// send claims the message with key and completes it as Slack's message ts.
func (b *bundle) send(t *testing.T, key, ts string) {
	t.Helper()
	m, ok := b.claim(t, "worker", b.clock.Now())[key]
	require.True(t, ok, "%s can be claimed", key)
	require.NoError(t, b.store.CompleteOutbox(t.Context(), "worker", b.clock.Now(), store.OutboxReceipt{ID: m.ID, Revision: m.Revision, TS: ts}))
}

func (b *bundle) getOutbox(t *testing.T, key string) store.OutboxMessage {
	t.Helper()
	m, err := b.store.GetOutbox(t.Context(), key)
	require.NoError(t, err)
	return m
}

func testEnqueue(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	t.Run("StoresAPendingMessageDueNow", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		m := card("card:1", "C_DEPLOYS", "Deploy v1.0.0")

		stored := b.enqueue(t, m)

		require.NotZero(t, stored.ID)
		requireJSONEq(t, m.Blocks, stored.Blocks)
		want := m
		want.ID, want.Blocks = stored.ID, stored.Blocks
		want.State, want.Revision, want.NextAt, want.CreatedAt = store.OutboxPending, 1, start, start
		require.Equal(t, want, stored)
		require.Equal(t, stored, b.getOutbox(t, "card:1"))
	})

	t.Run("StoresAReplyWithItsResponseURL", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		m := ephemeral("reply:1", "C_DEPLOYS", "U_ALICE")
		m.ResponseURL = "https://hooks.slack.com/commands/T1/1/x"

		stored := b.enqueue(t, m)

		require.Equal(t, m.ResponseURL, stored.ResponseURL)
		require.Equal(t, stored, b.getOutbox(t, "reply:1"))
		require.Equal(t, m.ResponseURL, b.claim(t, "worker", start)["reply:1"].ResponseURL)
	})

	t.Run("IsIdempotentByKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		first := b.enqueue(t, post("approval:1", "C_DEPLOYS"))
		again := post("approval:1", "C_DEPLOYS")
		again.Text = "a retried command enqueues it again"

		require.Equal(t, first, b.enqueue(t, again))
		require.Equal(t, first, b.getOutbox(t, "approval:1"))
	})

	t.Run("UpsertReplacesContentAndKeepsIDAndTS", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		first := b.enqueue(t, card("card:1", "C_DEPLOYS", "CI running"))
		b.send(t, "card:1", "1700000000.000100")

		updated := b.enqueue(t, card("card:1", "C_DEPLOYS", "CI passed"))

		require.Equal(t, first.ID, updated.ID)
		require.Equal(t, "1700000000.000100", updated.TS)
		require.Equal(t, "CI passed", updated.Text)
		requireJSONEq(t, card("", "", "CI passed").Blocks, updated.Blocks)
		require.Equal(t, int64(2), updated.Revision)
		require.Equal(t, store.OutboxPending, updated.State)
		require.Zero(t, updated.Attempts, "the new content has not been tried yet")
		require.Equal(t, first.CreatedAt, updated.CreatedAt)
	})

	t.Run("UpsertWithUnchangedContentChangesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		b.enqueue(t, card("card:1", "C_DEPLOYS", "CI passed"))
		b.send(t, "card:1", "1700000000.000100")
		sent := b.getOutbox(t, "card:1")

		require.Equal(t, sent, b.enqueue(t, card("card:1", "C_DEPLOYS", "CI passed")))
		require.Equal(t, store.OutboxSent, sent.State)
	})

	t.Run("RefusesMessagesThatCannotBeSent", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name    string
			message store.OutboxMessage
		}{
			{"NoKey", post("", "C_DEPLOYS")},
			{"NoChannel", post("m", "")},
			{"UnknownOperation", store.OutboxMessage{Key: "m", Channel: "C_DEPLOYS", Op: "shout"}},
			{"EphemeralWithoutUser", store.OutboxMessage{Key: "m", Channel: "C_DEPLOYS", Op: store.OpEphemeral}},
			{"PostForOneUser", store.OutboxMessage{Key: "m", Channel: "C_DEPLOYS", Op: store.OpPost, User: "U_ALICE"}},
			{"PostToAResponseURL", store.OutboxMessage{Key: "m", Channel: "C_DEPLOYS", Op: store.OpPost,
				ResponseURL: "https://hooks.slack.com/commands/T1/1/x"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, newDatabase)
				_, err := b.store.Enqueue(t.Context(), tc.message)
				require.Error(t, err)
				pending, _, err := b.store.OutboxStats(t.Context())
				require.NoError(t, err)
				require.Zero(t, pending)
			})
		}
	})

	t.Run("ConcurrentRepliesOnTwoReplicasAreAllStored", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		b.enqueue(t, card("card:1", "C_DEPLOYS", "Deploy v1.0.0"))
		replicas := []store.Store{b.store, b.open()}

		const replies = 20
		errs := make([]error, replies)
		parallel(replies, func(i int) {
			_, errs[i] = replicas[i%2].Enqueue(t.Context(), reply(fmt.Sprint("detail:", i), "C_DEPLOYS", "card:1"))
		})

		require.NoError(t, errors.Join(errs...))
		pending, _, err := b.store.OutboxStats(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1+replies, pending)
	})

	t.Run("SeveralAtOnceAreStoredLikeOneByOne", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		first := b.enqueue(t, post("tell:1:C_ONE", "C_ONE"))
		again := post("tell:1:C_ONE", "C_ONE")
		again.Text = "enqueued again with the others"

		require.NoError(t, b.store.EnqueueAll(t.Context(), again, post("tell:1:C_TWO", "C_TWO"), post("tell:1:C_THREE", "C_THREE")))

		require.Equal(t, first, b.getOutbox(t, "tell:1:C_ONE"), "a key already stored is left as it was")
		require.ElementsMatch(t, []string{"tell:1:C_ONE", "tell:1:C_TWO", "tell:1:C_THREE"}, b.claimKeys(t, "worker", start))
	})

	t.Run("SeveralAtOnceAreAllOrNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		err := b.store.EnqueueAll(t.Context(), post("tell:1:C_ONE", "C_ONE"), reply("detail:1", "C_ONE", "card:missing"))
		require.ErrorIs(t, err, store.ErrNotFound)
		pending, _, err := b.store.OutboxStats(t.Context())
		require.NoError(t, err)
		require.Zero(t, pending, "the message before the one refused is not stored either")
	})

	t.Run("ReplyToAnUnknownMessageIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		_, err := b.store.Enqueue(t.Context(), reply("detail:1", "C_DEPLOYS", "card:missing"))
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.store.GetOutbox(t.Context(), "detail:1")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func testClaimOutbox(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	t.Run("ClaimsDueMessagesNobodyElseHoldsAndCountsAttempts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		// Each in its own channel, so that channel order plays no part.
		b.enqueue(t, post("leased", "C1"))
		b.claim(t, "replica-b", start)
		expired := post("lease expired", "C2")
		expired.NextAt = start.Add(-10 * time.Minute)
		b.enqueue(t, expired)
		b.claim(t, "replica-b", start.Add(-2*time.Minute))
		b.enqueue(t, post("due", "C3"))
		later := post("not yet due", "C4")
		later.NextAt = start.Add(time.Second)
		b.enqueue(t, later)

		claimed := b.claim(t, "replica-a", start)

		require.ElementsMatch(t, []string{"lease expired", "due"}, keys(claimed))
		for _, m := range claimed {
			require.Equal(t, "replica-a", m.LeaseOwner)
			require.Equal(t, start.Add(time.Minute), *m.LeaseUntil)
		}
		require.Equal(t, 2, claimed["lease expired"].Attempts)
		require.Equal(t, 1, claimed["due"].Attempts)
	})

	t.Run("ReplyWaitsForItsParentsTS", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		b.enqueue(t, card("card:1", "C_DEPLOYS", "Deploy v1.0.0"))
		b.enqueue(t, reply("detail:1", "C_DEPLOYS", "card:1"))
		b.enqueue(t, reply("crosspost:1", "C_OTHER", "card:1"))

		require.Equal(t, []string{"card:1"}, b.claimKeys(t, "worker", start))
		m := b.getOutbox(t, "card:1")
		require.NoError(t, b.store.CompleteOutbox(t.Context(), "worker", start, store.OutboxReceipt{ID: m.ID, Revision: m.Revision, TS: "1700000000.000100"}))

		claimed := b.claim(t, "worker", start)
		require.ElementsMatch(t, []string{"detail:1", "crosspost:1"}, keys(claimed))
		require.Equal(t, "1700000000.000100", claimed["detail:1"].ThreadTS)
		require.Equal(t, "card:1", claimed["detail:1"].ThreadOf)
	})

	t.Run("OneChannelIsSentInOrderOneAtATime", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		first := b.enqueue(t, post("first", "C1"))
		b.enqueue(t, post("second", "C1"))
		elsewhere := b.enqueue(t, post("elsewhere", "C2"))

		require.ElementsMatch(t, []string{"first", "elsewhere"}, b.claimKeys(t, "worker", start))
		require.NoError(t, b.store.CompleteOutbox(ctx, "worker", start, store.OutboxReceipt{ID: elsewhere.ID, Revision: 1, TS: "2.2"}))
		require.Empty(t, b.claimKeys(t, "worker", start), "second waits while first is being sent")

		require.NoError(t, b.store.RetryOutbox(ctx, first.ID, "worker", start.Add(time.Minute), "ratelimited"))
		require.Empty(t, b.claimKeys(t, "worker", start), "second waits while first backs off")

		require.Equal(t, []string{"first"}, b.claimKeys(t, "worker", start.Add(time.Minute)))
		require.NoError(t, b.store.CompleteOutbox(ctx, "worker", start.Add(time.Minute), store.OutboxReceipt{ID: first.ID, Revision: 1, TS: "1.1"}))
		require.Equal(t, []string{"second"}, b.claimKeys(t, "worker", start.Add(time.Minute)))
	})

	t.Run("RepliesToOnePersonWaitForEachOtherAndHoldUpNothingElse", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		// Replies paced by Slack pile up before a deploy card and another person's reply.
		first := b.enqueue(t, ephemeral("reply:1", "C1", "U_ALICE"))
		b.enqueue(t, ephemeral("reply:2", "C1", "U_ALICE"))
		b.enqueue(t, post("card", "C1"))
		b.enqueue(t, ephemeral("reply:3", "C1", "U_BOB"))
		b.enqueue(t, ephemeral("reply:4", "C2", "U_ALICE"))
		b.enqueue(t, post("card 2", "C1"))

		require.Equal(t, []string{"reply:1", "card", "reply:3", "reply:4"}, b.claimKeys(t, "worker", start))
		require.NoError(t, b.store.RetryOutbox(ctx, first.ID, "worker", start.Add(time.Second), "paced"))
		require.Empty(t, b.claimKeys(t, "worker", start), "Alice's second reply waits for her first; the second card for the first")
		require.Equal(t, []string{"reply:1"}, b.claimKeys(t, "worker", start.Add(time.Second)))
	})

	t.Run("UpdateOfAPostedMessageDoesNotWaitForTheChannel", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		// "first" dies unposted, "card" is posted after it; then an upsert revives "first",
		// which another worker is now sending: it is earlier in the channel than "card".
		b.enqueue(t, card("first", "C1", "v1"))
		m := b.claim(t, "worker", start)["first"]
		require.NoError(t, b.store.KillOutbox(t.Context(), m.ID, "worker", "invalid_blocks"))
		b.enqueue(t, card("card", "C1", "CI running"))
		b.send(t, "card", "1.1")
		b.enqueue(t, card("first", "C1", "v2"))
		require.Equal(t, []string{"first"}, b.claimKeys(t, "replica-b", start))

		b.enqueue(t, card("card", "C1", "CI passed"))

		require.Equal(t, []string{"card"}, b.claimKeys(t, "worker", start))
	})

	t.Run("TwoReplicasNeverClaimTheSameMessage", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		const channels, perChannel = 6, 5
		for i := range channels * perChannel {
			b.enqueue(t, post(fmt.Sprint("m", i), fmt.Sprint("C", i%channels)))
		}
		replicas := []store.Store{b.store, b.open()}

		var (
			mu     sync.Mutex
			claims []store.OutboxMessage // in the order they were claimed
		)
		const workers = 6
		errs := make([]error, workers)
		parallel(workers, func(i int) {
			s, owner := replicas[i%2], fmt.Sprint("worker-", i)
			for {
				claimed, err := s.ClaimOutbox(t.Context(), owner, start, time.Minute, 2)
				if err != nil {
					errs[i] = err
					return
				}
				for _, m := range claimed {
					mu.Lock()
					claims = append(claims, m)
					mu.Unlock()
					if err := s.CompleteOutbox(t.Context(), owner, start, store.OutboxReceipt{ID: m.ID, Revision: m.Revision, TS: fmt.Sprint(m.ID)}); err != nil {
						errs[i] = err
						return
					}
				}
				if len(claimed) == 0 {
					pending, _, err := s.OutboxStats(t.Context())
					if err != nil || pending == 0 {
						errs[i] = err
						return
					}
				}
			}
		})

		require.NoError(t, errors.Join(errs...))
		require.Len(t, claims, channels*perChannel, "every message is claimed exactly once")
		seen := map[string]bool{}
		lastInChannel := map[string]int64{}
		for _, m := range claims {
			require.False(t, seen[m.Key], "%s claimed twice", m.Key)
			seen[m.Key] = true
			require.Less(t, lastInChannel[m.Channel], m.ID, "%s is claimed in order", m.Channel)
			lastInChannel[m.Channel] = m.ID
		}
	})
}

func testFinishOutbox(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	t.Run("CompleteMarksSentOnlyIfNoNewerRevisionArrived", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		b.enqueue(t, card("card:1", "C_DEPLOYS", "CI running"))
		sending := b.claim(t, "worker", start)["card:1"]
		b.enqueue(t, card("card:1", "C_DEPLOYS", "CI passed")) // arrives while sending

		b.clock.Advance(time.Second)
		require.NoError(t, b.store.CompleteOutbox(ctx, "worker", b.clock.Now(), store.OutboxReceipt{ID: sending.ID, Revision: sending.Revision, TS: "1.1"}))

		m := b.getOutbox(t, "card:1")
		require.Equal(t, store.OutboxPending, m.State)
		require.Equal(t, "1.1", m.TS, "the next send updates the posted message")
		require.Empty(t, m.LeaseOwner)

		resending := b.claim(t, "worker", b.clock.Now())["card:1"]
		require.Equal(t, int64(2), resending.Revision)
		require.Equal(t, "CI passed", resending.Text)
		require.NoError(t, b.store.CompleteOutbox(ctx, "worker", b.clock.Now(), store.OutboxReceipt{ID: resending.ID, Revision: resending.Revision, TS: "1.1"}))
		m = b.getOutbox(t, "card:1")
		require.Equal(t, store.OutboxSent, m.State)
		require.Equal(t, b.clock.Now(), *m.SentAt)
	})

	t.Run("RetryPutsTheMessageBackUntilLater", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		m := b.enqueue(t, post("m", "C1"))
		b.claim(t, "worker", start)

		require.NoError(t, b.store.RetryOutbox(t.Context(), m.ID, "worker", start.Add(time.Minute), "ratelimited"))

		got := b.getOutbox(t, "m")
		require.Equal(t, store.OutboxPending, got.State)
		require.Equal(t, "ratelimited", got.LastError)
		require.Equal(t, start.Add(time.Minute), got.NextAt)
		require.Empty(t, b.claimKeys(t, "worker", start.Add(time.Minute-time.Nanosecond)))
		require.Equal(t, 2, b.claim(t, "worker", start.Add(time.Minute))["m"].Attempts)
	})

	t.Run("KillMarksDeadAndFreesTheChannel", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		m := b.enqueue(t, post("m", "C1"))
		b.enqueue(t, post("next", "C1"))
		b.claim(t, "worker", start)

		require.NoError(t, b.store.KillOutbox(t.Context(), m.ID, "worker", "channel_not_found"))

		got := b.getOutbox(t, "m")
		require.Equal(t, store.OutboxDead, got.State)
		require.Equal(t, "channel_not_found", got.LastError)
		require.Equal(t, []string{"next"}, b.claimKeys(t, "worker", start))
	})

	t.Run("KillingAnUnpostedParentKillsItsReplies", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		parent := b.enqueue(t, card("card:1", "C1", "Deploy"))
		b.enqueue(t, reply("detail:1", "C1", "card:1"))
		b.enqueue(t, post("unrelated", "C1"))
		b.claim(t, "worker", start)

		require.NoError(t, b.store.KillOutbox(t.Context(), parent.ID, "worker", "invalid_blocks"))

		require.Equal(t, store.OutboxDead, b.getOutbox(t, "detail:1").State)
		require.Equal(t, []string{"unrelated"}, b.claimKeys(t, "worker", start))
	})

	t.Run("KillingAPostedParentKeepsItsReplies", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		b.enqueue(t, card("card:1", "C1", "CI running"))
		b.send(t, "card:1", "1.1")
		b.enqueue(t, reply("detail:1", "C1", "card:1"))
		updated := b.enqueue(t, card("card:1", "C1", "CI passed"))
		b.claim(t, "worker", start)

		require.NoError(t, b.store.KillOutbox(t.Context(), updated.ID, "worker", "msg_too_long"))

		require.Equal(t, store.OutboxPending, b.getOutbox(t, "detail:1").State)
	})

	t.Run("OnlyTheLeaseHolderFinishesAMessage", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name   string
			finish func(s store.Store, m store.OutboxMessage, owner string) error
		}{
			{"Complete", func(s store.Store, m store.OutboxMessage, owner string) error {
				return s.CompleteOutbox(t.Context(), owner, start, store.OutboxReceipt{ID: m.ID, Revision: m.Revision, TS: "1.1"})
			}},
			{"Retry", func(s store.Store, m store.OutboxMessage, owner string) error {
				return s.RetryOutbox(t.Context(), m.ID, owner, start, "timeout")
			}},
			{"Kill", func(s store.Store, m store.OutboxMessage, owner string) error {
				return s.KillOutbox(t.Context(), m.ID, owner, "channel_not_found")
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, newDatabase)
				b.enqueue(t, post("m", "C1"))
				slow := b.claim(t, "replica-a", start)["m"]
				fast := b.claim(t, "replica-b", start.Add(time.Minute))["m"] // replica-a's lease expired

				require.ErrorIs(t, tc.finish(b.store, slow, "replica-a"), store.ErrLeaseLost)
				got := b.getOutbox(t, "m")
				require.Equal(t, store.OutboxPending, got.State)
				require.Equal(t, "replica-b", got.LeaseOwner)
				require.NoError(t, tc.finish(b.store, fast, "replica-b"))
			})
		}
	})

	t.Run("CompleteRecordsSeveralAndLeavesAMessageAnotherOwnerTook", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		first := b.enqueue(t, ephemeral("reply:1", "C1", "U_ALICE"))
		b.enqueue(t, ephemeral("reply:2", "C1", "U_BOB"))
		b.claim(t, "replica-a", start)
		late := ephemeral("reply:3", "C1", "U_CAROL")
		late.NextAt = start.Add(-time.Minute)
		b.enqueue(t, late)
		claimedLate := b.claim(t, "replica-a", start.Add(-time.Minute))["reply:3"] // its lease ends at start
		taken := b.claim(t, "replica-b", start)["reply:3"]
		require.NotZero(t, taken.ID)
		claimed := []store.OutboxMessage{b.getOutbox(t, "reply:1"), b.getOutbox(t, "reply:2"), claimedLate}

		var receipts []store.OutboxReceipt
		for _, m := range claimed {
			receipts = append(receipts, store.OutboxReceipt{ID: m.ID, Revision: m.Revision})
		}
		err := b.store.CompleteOutbox(t.Context(), "replica-a", start, receipts...)

		require.ErrorIs(t, err, store.ErrLeaseLost)
		require.Contains(t, err.Error(), fmt.Sprint(claimedLate.ID), "the error names the message it could not record")
		require.NotContains(t, err.Error(), fmt.Sprint(first.ID))
		for _, key := range []string{"reply:1", "reply:2"} {
			m := b.getOutbox(t, key)
			require.Equal(t, store.OutboxSent, m.State, key)
			require.Equal(t, start, *m.SentAt, key)
		}
		m := b.getOutbox(t, "reply:3")
		require.Equal(t, store.OutboxPending, m.State, "replica-b is sending it")
		require.Equal(t, "replica-b", m.LeaseOwner)
	})

	t.Run("Stats", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		pending, next, err := b.store.OutboxStats(ctx)
		require.NoError(t, err)
		require.Zero(t, pending)
		require.Nil(t, next)

		b.enqueue(t, post("sent", "C1"))
		b.send(t, "sent", "1.1")
		later := post("later", "C2")
		later.NextAt = start.Add(time.Hour)
		b.enqueue(t, later)
		soon := post("soon", "C3")
		soon.NextAt = start.Add(time.Minute)
		b.enqueue(t, soon)

		pending, next, err = b.store.OutboxStats(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, pending)
		require.Equal(t, start.Add(time.Minute), *next)
	})
}

func keys(byKey map[string]store.OutboxMessage) []string {
	var all []string
	for k := range byKey {
		all = append(all, k)
	}
	return all
}
