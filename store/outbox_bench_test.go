package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/store"
)

// BenchmarkClaimOutbox measures the outbox worker's claim, which runs at every poll and after
// every handled delivery, on a database that has sent a year of messages (100k) and holds a
// few pending ones: its cost must follow what is pending, not what was ever sent.
func BenchmarkClaimOutbox(b *testing.B) {
	const sent, pending = 100_000, 20
	for _, database := range benchDatabases {
		b.Run(database.name, func(b *testing.B) {
			cfg, dsn := database.open(b)
			s := openStore(b, cfg)
			now := time.Now()
			seedSentMessages(b, database.driver, dsn, sent, now)
			for i := range pending {
				_, err := s.Enqueue(b.Context(), store.OutboxMessage{Key: fmt.Sprint("pending ", i), Op: store.OpEphemeral,
					Channel: fmt.Sprint("C", i), User: "U_ALICE", Text: "Nothing is being deployed."})
				require.NoError(b, err)
			}
			var took []time.Duration
			for i := 0; b.Loop(); i++ {
				// The worker asks for as many as it has room for, which changes from claim
				// to claim.
				room := 100 - i%5
				start := time.Now()
				// A lease of 0 ends at once: the next claim takes the same messages again.
				claimed, err := s.ClaimOutbox(b.Context(), "worker", now.Add(time.Hour), 0, room)
				took = append(took, time.Since(start))
				if err != nil || len(claimed) != pending {
					b.Fatalf("claimed %d of %d: %v", len(claimed), pending, err)
				}
			}
			reportPercentiles(b, took)
		})
	}
}

// seedSentMessages inserts n sent messages, as a year of cards and replies leaves behind,
// straight into the database.
func seedSentMessages(b *testing.B, driver, dsn string, n int, newest time.Time) {
	seedRows(b, driver, dsn, "outbox", `(key, op, upsert, channel, user_id, thread_of, text, blocks, state, ts,
		attempts, next_at, last_error, created_at, sent_at, revision, lease_owner, lease_until)`, n, func(i, p int) (string, []any) {
		at := newest.Add(-time.Duration(n-i) * 5 * time.Minute).UnixNano()
		return fmt.Sprintf("($%d, 'ephemeral', FALSE, 'C_DEPLOYS', 'U_ALICE', '', 'Nothing is being deployed.', "+
			"NULL, 'sent', '', 1, $%d, '', $%d, $%d, 1, '', NULL)", p+1, p+2, p+2, p+2), []any{fmt.Sprint("reply ", i), at}
	})
}
