package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/store"
)

func testRecords(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	t.Run("FirstDeliveryIsTrueOnceAcrossReplicas", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		replicas := []store.Store{b.store, b.open()}
		const deliveries = 10
		firsts := make([]bool, deliveries)
		errs := make([]error, deliveries)
		parallel(deliveries, func(i int) {
			firsts[i], errs[i] = replicas[i%2].FirstDelivery(t.Context(), "envelope:1", start)
		})

		winners := 0
		for i := range deliveries {
			require.NoError(t, errs[i])
			if firsts[i] {
				winners++
			}
		}
		require.Equal(t, 1, winners)
		first, err := b.store.FirstDelivery(t.Context(), "envelope:2", start)
		require.NoError(t, err)
		require.True(t, first, "another key is new")
	})

	t.Run("FinishDeliveryWritesKeyAuditAndReplyTogetherOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		replicas := []store.Store{b.store, b.open()}
		ctx := t.Context()
		record := func(i int) store.DeliveryRecord {
			return store.DeliveryRecord{Key: "envelope:1", At: start,
				Audit: store.AuditEntry{Actor: "U_ALICE", Action: "/deploy status", Outcome: "ok", Detail: fmt.Sprint(i)},
				Reply: &store.OutboxMessage{Key: "reply:envelope:1", Op: store.OpEphemeral, Channel: "C_DEPLOYS",
					User: "U_ALICE", Text: fmt.Sprintf("Nothing is being deployed (%d).", i)}}
		}
		const deliveries = 10
		recorded := make([]bool, deliveries)
		errs := make([]error, deliveries)
		parallel(deliveries, func(i int) {
			recorded[i], errs[i] = replicas[i%2].FinishDelivery(ctx, record(i))
		})
		winner := -1
		for i := range deliveries {
			require.NoError(t, errs[i])
			if recorded[i] {
				require.Equal(t, -1, winner, "recorded twice: by %d and %d", winner, i)
				winner = i
			}
		}
		require.NotEqual(t, -1, winner, "nobody recorded it")

		entries, err := b.store.ListAudit(ctx, store.AuditQuery{})
		require.NoError(t, err)
		require.Len(t, entries, 1, "one audit entry for the delivery, however often it came")
		require.Equal(t, fmt.Sprint(winner), entries[0].Detail)
		require.Equal(t, start, entries[0].At, "the audit entry is dated with the delivery")
		reply, err := b.store.GetOutbox(ctx, "reply:envelope:1")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("Nothing is being deployed (%d).", winner), reply.Text, "the winner's reply, not a loser's")
		require.Equal(t, store.OutboxPending, reply.State)
		first, err := b.store.FirstDelivery(ctx, "envelope:1", start)
		require.NoError(t, err)
		require.False(t, first, "the key is recorded as FirstDelivery's are")
	})

	t.Run("FinishDeliveryAfterFirstDeliveryWritesTheAnswer", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		first, err := b.store.FirstDelivery(ctx, "envelope:2", start)
		require.NoError(t, err)
		require.True(t, first)
		recorded, err := b.store.FinishDelivery(ctx, store.DeliveryRecord{
			Audit: store.AuditEntry{Actor: "U_ALICE", Action: "/deploy v1.0.0", Outcome: "ok"}})
		require.NoError(t, err)
		require.True(t, recorded)
		entries, err := b.store.ListAudit(ctx, store.AuditQuery{})
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, start, entries[0].At, "a zero At means now")
		_, err = b.store.GetOutbox(ctx, "reply:envelope:2")
		require.ErrorIs(t, err, store.ErrNotFound, "no reply was given")
	})

	t.Run("FinishDeliveryWritesNothingWhenAPartFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		_, err := b.store.FinishDelivery(ctx, store.DeliveryRecord{Key: "envelope:3",
			Audit: store.AuditEntry{Actor: "U_ALICE", Action: "click incident.resolve", Outcome: "refused"},
			Reply: &store.OutboxMessage{Key: "reply:envelope:3", Op: store.OpEphemeral, Channel: "C_INC",
				User: "U_ALICE", Text: "Only the commander can resolve.", ThreadOf: "no-such-message"}})
		require.ErrorIs(t, err, store.ErrNotFound)
		entries, err := b.store.ListAudit(ctx, store.AuditQuery{})
		require.NoError(t, err)
		require.Empty(t, entries, "the audit entry went with the failed reply")
		first, err := b.store.FirstDelivery(ctx, "envelope:3", start)
		require.NoError(t, err)
		require.True(t, first, "the key went too, so that a retry is handled")
	})

	t.Run("AuditLog", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		stamped, err := b.store.AppendAudit(ctx, store.AuditEntry{Actor: "U_ALICE", Action: "/deploy v1.0.0", RunID: 1, Outcome: "ok"})
		require.NoError(t, err)
		require.NotZero(t, stamped.ID)
		require.Equal(t, start, stamped.At, "a zero At means now")
		for _, e := range []store.AuditEntry{
			{At: start.Add(time.Minute), Actor: "U_BOB", Action: "click deploy.approve", RunID: 1, Outcome: "refused",
				Detail: "You requested this deploy; someone else must approve it."},
			{At: start.Add(2 * time.Minute), Actor: "U_ALICE", Action: "/deploy status", Outcome: "ok"},
			{At: start.Add(3 * time.Minute), Actor: "U_ERIN", Action: "click deploy.approve", RunID: 1, Outcome: "ok"},
		} {
			_, err := b.store.AppendAudit(ctx, e)
			require.NoError(t, err)
		}

		for _, tc := range []struct {
			name  string
			query store.AuditQuery
			want  []string // actors, newest first
		}{
			{"All", store.AuditQuery{}, []string{"U_ERIN", "U_ALICE", "U_BOB", "U_ALICE"}},
			{"Actor", store.AuditQuery{Actor: "U_ALICE"}, []string{"U_ALICE", "U_ALICE"}},
			{"Run", store.AuditQuery{RunID: 1}, []string{"U_ERIN", "U_BOB", "U_ALICE"}},
			{"Since", store.AuditQuery{Since: start.Add(2 * time.Minute)}, []string{"U_ERIN", "U_ALICE"}},
			{"Limit", store.AuditQuery{RunID: 1, Limit: 1}, []string{"U_ERIN"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				entries, err := b.store.ListAudit(ctx, tc.query)
				require.NoError(t, err)
				var actors []string
				for _, e := range entries {
					actors = append(actors, e.Actor)
				}
				require.Equal(t, tc.want, actors)
			})
		}
		entries, err := b.store.ListAudit(ctx, store.AuditQuery{Actor: "U_BOB"})
		require.NoError(t, err)
		require.Equal(t, "You requested this deploy; someone else must approve it.", entries[0].Detail)
	})

	t.Run("RunEvents", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		incident := b.createRun(t, store.Run{Kind: store.KindIncident, State: store.RunRunning, Title: "Checkout errors"})
		other := b.createRun(t, deploy("deploy"))

		update, added, err := b.store.AppendRunEvent(ctx, store.RunEvent{RunID: incident.ID, Kind: "update",
			Actor: "U_CAROL", Text: "Rolled back", Data: json.RawMessage(`{"status":"monitoring"}`)})
		require.NoError(t, err)
		require.True(t, added)
		require.Equal(t, start, update.At, "a zero At means now")
		requireJSONEq(t, json.RawMessage(`{"status":"monitoring"}`), update.Data)

		pin := store.RunEvent{RunID: incident.ID, At: start.Add(-time.Hour), Kind: "pin", Actor: "U_DAVE",
			Text: "Errors started at 13:02", Key: "pin:1700000000.000100"}
		pinned, added, err := b.store.AppendRunEvent(ctx, pin)
		require.NoError(t, err)
		require.True(t, added)
		pin.Text = "the same pin, seen again"
		again, added, err := b.store.AppendRunEvent(ctx, pin)
		require.NoError(t, err)
		require.False(t, added)
		require.Equal(t, pinned, again)
		_, added, err = b.store.AppendRunEvent(ctx, store.RunEvent{RunID: other.ID, Kind: "pin", Key: pin.Key})
		require.NoError(t, err)
		require.True(t, added, "keys are unique per run")
		_, added, err = b.store.AppendRunEvent(ctx, store.RunEvent{RunID: incident.ID, Kind: "update", Text: "Rolled back"})
		require.NoError(t, err)
		require.True(t, added, "events without a key are never de-duplicated")

		events, err := b.store.ListRunEvents(ctx, incident.ID)
		require.NoError(t, err)
		require.Len(t, events, 3)
		require.Equal(t, pinned, events[0], "ordered by when it happened")
		require.Equal(t, update, events[1])
		require.Equal(t, start, events[2].At)
		require.Greater(t, events[2].ID, events[1].ID, "then by ID")
	})

	// A handler whose context ended (shutdown past its grace) must not record half a delivery.
	t.Run("ACallerThatHasGoneChangesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		gone, cancel := context.WithCancel(t.Context())
		cancel()
		reply := store.OutboxMessage{Key: "reply:envelope:1", Op: store.OpEphemeral, Channel: "C_DEPLOYS",
			User: "U_ALICE", Text: "Nothing is being deployed."}

		_, err := b.store.FirstDelivery(gone, "envelope:1", start)
		require.ErrorIs(t, err, context.Canceled)
		_, err = b.store.AppendAudit(gone, store.AuditEntry{At: start, Actor: "U_ALICE", Action: "/deploy status", Outcome: "ok"})
		require.ErrorIs(t, err, context.Canceled)
		_, err = b.store.Enqueue(gone, reply)
		require.ErrorIs(t, err, context.Canceled)
		_, err = b.store.FinishDelivery(gone, store.DeliveryRecord{Key: "envelope:2", At: start,
			Audit: store.AuditEntry{Actor: "U_ALICE", Action: "/deploy status", Outcome: "ok"}, Reply: &reply})
		require.ErrorIs(t, err, context.Canceled)
		_, err = b.store.GetOutbox(gone, reply.Key)
		require.ErrorIs(t, err, context.Canceled)

		ctx := t.Context()
		entries, err := b.store.ListAudit(ctx, store.AuditQuery{})
		require.NoError(t, err)
		require.Empty(t, entries)
		_, err = b.store.GetOutbox(ctx, reply.Key)
		require.ErrorIs(t, err, store.ErrNotFound)
		for _, key := range []string{"envelope:1", "envelope:2"} {
			first, err := b.store.FirstDelivery(ctx, key, start)
			require.NoError(t, err)
			require.True(t, first, "%s was not recorded", key)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		require.NoError(t, b.store.Ping(t.Context()))
	})
}
