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
// de-duplication key, the audit entry and the queued reply, written as three transactions (a
// command that changes something takes its key first) or as one (FinishDelivery alone, for a
// command that only reads).
func BenchmarkDeliveryOnSQLite(b *testing.B) {
	ways := []struct {
		name    string
		deliver func(ctx context.Context, st store.Store, key string, now time.Time) error
	}{
		{"ThreeTransactions", func(ctx context.Context, st store.Store, key string, now time.Time) error {
			if _, err := st.FirstDelivery(ctx, key, now); err != nil {
				return err
			}
			if _, err := st.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "U0ALICE", Action: "/deploy status", Outcome: "ok"}); err != nil {
				return err
			}
			_, err := st.Enqueue(ctx, reply(key))
			return err
		}},
		{"KeyFirstThenTheAnswer", func(ctx context.Context, st store.Store, key string, now time.Time) error {
			if _, err := st.FirstDelivery(ctx, key, now); err != nil {
				return err
			}
			_, err := st.FinishDelivery(ctx, store.DeliveryRecord{At: now, Audit: audit(), Reply: new(reply(key))})
			return err
		}},
		{"OneTransaction", func(ctx context.Context, st store.Store, key string, now time.Time) error {
			_, err := st.FinishDelivery(ctx, store.DeliveryRecord{Key: key, At: now, Audit: audit(), Reply: new(reply(key))})
			return err
		}},
	}
	for _, way := range ways {
		b.Run(way.name, func(b *testing.B) {
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
				if err := way.deliver(ctx, st, fmt.Sprintf("envelope:%d", i), now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func audit() store.AuditEntry {
	return store.AuditEntry{Actor: "U0ALICE", Action: "/deploy status", Outcome: "ok"}
}

func reply(key string) store.OutboxMessage {
	return store.OutboxMessage{Key: "reply:" + key, Op: store.OpEphemeral, Channel: "C0DEPLOYS", User: "U0ALICE", Text: "Nothing is being deployed."}
}
