package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/store"
)

// BenchmarkDeliveryOnSQLite is the store's share of one slash command after its ack: the
// de-duplication key, the audit entry and the queued reply.
func BenchmarkDeliveryOnSQLite(b *testing.B) {
	st, err := store.Open(context.Background(), store.Config{
		Driver: store.SQLite, DSN: filepath.Join(b.TempDir(), "opsbot.db"), Logger: zerolog.Nop(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx, now := context.Background(), time.Now()
	b.ResetTimer()
	for i := range b.N {
		key := fmt.Sprintf("envelope:%d", i)
		if _, err := st.FirstDelivery(ctx, key, now); err != nil {
			b.Fatal(err)
		}
		if _, err := st.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "U0ALICE", Action: "/deploy status", Outcome: "ok"}); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Enqueue(ctx, store.OutboxMessage{Key: "reply:" + key, Op: store.OpEphemeral, Channel: "C0DEPLOYS", User: "U0ALICE", Text: "Nothing is being deployed."}); err != nil {
			b.Fatal(err)
		}
	}
}
