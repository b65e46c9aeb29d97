package commands_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/commands"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/store"
)

type roles map[string][]config.Role

func (r roles) Has(_ context.Context, user string, role config.Role) (bool, error) {
	for _, held := range r[user] {
		if held == role || held == config.RoleAdmin {
			return true, nil
		}
	}
	return false, nil
}

func (roles) Holders(role config.Role) string { return "@" + string(role) + "s" }

// recordingDomain serves /deploy and records what reached it.
type recordingDomain struct {
	mu     sync.Mutex
	served []commands.Request
}

func (d *recordingDomain) Claims(req commands.Request) bool {
	switch req.(type) {
	case commands.DeployStart, commands.DeployStatus:
		return true
	}
	return false
}

func (d *recordingDomain) Serve(_ context.Context, _ chat.Actor, req commands.Request) (chat.Message, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.served = append(d.served, req)
	return chat.Text("started"), nil
}

func (*recordingDomain) ClaimsAction(string) bool { return false }
func (*recordingDomain) Click(context.Context, chat.Actor, commands.Click) (chat.Message, error) {
	return chat.Message{}, nil
}
func (*recordingDomain) ClaimsView(string) bool { return false }
func (*recordingDomain) Submit(context.Context, chat.Actor, commands.Submission) (chat.Message, error) {
	return chat.Message{}, nil
}

type responder struct {
	mu   sync.Mutex
	sent []string
}

func (r *responder) RespondNow(_ context.Context, url, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, url+" "+text)
	return nil
}

type bundle struct {
	svc       *commands.Service
	st        store.Store
	domain    *recordingDomain
	responder *responder
}

func setup(t *testing.T, dsn string) *bundle {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Driver: store.SQLite, DSN: dsn, Logger: zerolog.Nop()})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b := &bundle{st: st, domain: &recordingDomain{}, responder: &responder{}}
	b.svc, err = commands.NewService(commands.Options{
		Store: st, Log: zerolog.Nop(), Domains: []commands.Domain{b.domain}, Responder: b.responder,
		Roles: roles{"U0ALICE": {config.RoleDeployer}, "U0ROOT": {config.RoleAdmin}},
	})
	require.NoError(t, err)
	return b
}

func invocation(id, user, text string) commands.Invocation {
	return commands.Invocation{EnvelopeID: id, UserID: user, ChannelID: "C0DEPLOYS", Command: "/deploy", Text: text,
		ResponseURL: "https://hooks.example/" + id, ReceivedAt: time.Now()}
}

func TestCommandsAreAuthorisedAuditedAndAnswered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		user      string
		text      string
		ackText   string // the immediate reply in the ack, if any
		reply     string // the ephemeral reply queued in the outbox, if any
		outcome   string
		reachesUs bool // the domain sees the request
	}{
		{name: "deployer deploys", user: "U0ALICE", text: "v1.0.0", reply: "started", outcome: "ok", reachesUs: true},
		{name: "admin deploys", user: "U0ROOT", text: "v1.0.0 to staging", reply: "started", outcome: "ok", reachesUs: true},
		{name: "no role", user: "U0DAVE", text: "v1.0.0", reply: "Only @deployers can deploy.", outcome: "refused"},
		{name: "status is open to all", user: "U0DAVE", text: "status", reply: "started", outcome: "ok", reachesUs: true},
		{name: "usage error", user: "U0ALICE", text: "v1.0", ackText: `I couldn't read "v1.0" as a version.`, outcome: "usage"},
		{name: "help", user: "U0DAVE", text: "help", ackText: "/deploy — deploy a release", outcome: "ok"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, filepath.Join(t.TempDir(), "opsbot.db"))
			in := invocation(string(rune('a'+i)), tt.user, tt.text)

			ack := b.svc.Immediate(in)
			if tt.ackText != "" {
				require.Contains(t, ack.Payload.(map[string]any)["text"], tt.ackText)
			} else {
				require.Nil(t, ack.Payload)
			}
			require.NoError(t, b.svc.Handle(context.Background(), in))

			reply, err := b.st.GetOutbox(context.Background(), "reply:"+in.DeliveryKey())
			if tt.reply == "" {
				require.ErrorIs(t, err, store.ErrNotFound)
			} else {
				require.NoError(t, err)
				require.Equal(t, tt.reply, reply.Text)
				require.Equal(t, store.OpEphemeral, reply.Op)
				require.Equal(t, tt.user, reply.User)
				require.Equal(t, in.ResponseURL, reply.ResponseURL, "the reply can go where Slack expects the answer")
			}
			audit, err := b.st.ListAudit(context.Background(), store.AuditQuery{})
			require.NoError(t, err)
			require.Len(t, audit, 1, "every command is audited once")
			require.Equal(t, tt.outcome, audit[0].Outcome)
			require.Equal(t, tt.user, audit[0].Actor)
			require.Equal(t, tt.reachesUs, len(b.domain.served) == 1)
		})
	}
}

// Slack re-delivers an envelope whose ack it missed, and with several replicas two copies can
// be handled at once. Either way the person gets one answer and the audit log one entry; a
// command that changes something reaches its domain once.
func TestARetriedDeliveryIsAnsweredAndAuditedOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		text       string
		reply      string
		servedOnce bool // a read-only command may be served by both copies; only one answer counts
	}{
		{name: "deploy", text: "v1.0.0", reply: "started", servedOnce: true},
		{name: "status", text: "status", reply: "started"},
		{name: "usage error", text: "v1.0"},
	}
	for _, tt := range tests {
		for _, together := range []bool{false, true} {
			name := tt.name + "/one after the other"
			if together {
				name = tt.name + "/at the same time"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, filepath.Join(t.TempDir(), "opsbot.db"))
				in := invocation("retried", "U0ALICE", tt.text)
				errs := make([]error, 2)
				if together {
					var wg sync.WaitGroup
					for i := range errs {
						wg.Go(func() { errs[i] = b.svc.Handle(t.Context(), in) })
					}
					wg.Wait()
				} else {
					for i := range errs {
						errs[i] = b.svc.Handle(t.Context(), in)
					}
				}
				duplicates := 0
				for _, err := range errs {
					if errors.Is(err, commands.ErrDuplicate) {
						duplicates++
					} else {
						require.NoError(t, err)
					}
				}
				require.Equal(t, 1, duplicates, "one copy is recognised as a duplicate")

				audit, err := b.st.ListAudit(t.Context(), store.AuditQuery{})
				require.NoError(t, err)
				require.Len(t, audit, 1, "audited once")
				reply, err := b.st.GetOutbox(t.Context(), "reply:"+in.DeliveryKey())
				if tt.reply == "" {
					require.ErrorIs(t, err, store.ErrNotFound)
				} else {
					require.NoError(t, err)
					require.Equal(t, tt.reply, reply.Text)
				}
				if tt.servedOnce {
					require.Len(t, b.domain.served, 1, "the deploy was started once")
				}
			})
		}
	}
}

func TestStoreDownIsToldThroughTheResponseURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "opsbot.db")
	setup(t, path) // create and migrate it
	b := setup(t, "file:"+path+"?mode=ro")

	in := invocation("down", "U0ALICE", "v1.0.0")
	err := b.svc.Handle(context.Background(), in)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.Equal(t, []string{"https://hooks.example/down " +
		"I can't start or change anything right now: my database is unreachable. Nothing was started or changed — please try again in a minute."},
		b.responder.sent)
}
