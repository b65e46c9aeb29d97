package fakeslack_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// waitLimit bounds every wait in these tests; nothing should take nearly this long.
const waitLimit = 5 * time.Second

// newServer starts a sandbox workspace closed at the end of the test.
func newServer(t *testing.T, opts fakeslack.Options) *fakeslack.Server {
	t.Helper()
	srv, err := fakeslack.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

// botAPI is the real slack-go client, configured as opsbot configures it.
func botAPI(srv *fakeslack.Server) *slack.Client {
	return slack.New(fakeslack.BotToken, slack.OptionAppLevelToken(fakeslack.AppToken), slack.OptionAPIURL(srv.APIURL()))
}

// testBot is a real slack-go Socket Mode client whose answers each test scripts: it hands every
// request envelope to the test through requests.
type testBot struct {
	api      *slack.Client
	client   *socketmode.Client
	requests chan socketmode.Event
	hellos   chan socketmode.Event
	hello    socketmode.Event // the first
}

func startBot(t *testing.T, srv *fakeslack.Server) *testBot {
	t.Helper()
	api := botAPI(srv)
	b := &testBot{
		api:      api,
		client:   socketmode.New(api),
		requests: make(chan socketmode.Event, 100),
		hellos:   make(chan socketmode.Event, 10),
	}
	ctx, cancel := context.WithCancel(context.Background())
	running := make(chan struct{})
	go func() {
		defer close(running)
		_ = b.client.RunContext(ctx)
	}()
	pumping := make(chan struct{})
	go func() {
		defer close(pumping)
		for {
			select {
			case evt := <-b.client.Events:
				switch evt.Type {
				case socketmode.EventTypeHello:
					b.hellos <- evt
				case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
					b.requests <- evt
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-running
		<-pumping
	})
	b.hello = b.awaitHello(t)
	return b
}

func (b *testBot) awaitHello(t *testing.T) socketmode.Event {
	t.Helper()
	select {
	case evt := <-b.hellos:
		return evt
	case <-time.After(waitLimit):
		t.Fatal("the bot was never greeted with hello")
		return socketmode.Event{}
	}
}

// next returns the next request envelope the bot received.
func (b *testBot) next(t *testing.T) socketmode.Event {
	t.Helper()
	select {
	case evt := <-b.requests:
		return evt
	case <-time.After(waitLimit):
		t.Fatal("the bot received no envelope")
		return socketmode.Event{}
	}
}

// answered reports the requests a bot answered.
type answered chan socketmode.Event

func (a answered) next(t *testing.T) socketmode.Event {
	t.Helper()
	select {
	case evt := <-a:
		return evt
	case <-time.After(waitLimit):
		t.Fatal("the bot answered nothing")
		return socketmode.Event{}
	}
}

// answer acks every request with payload until the test ends.
func (b *testBot) answer(t *testing.T, payload func(socketmode.Event) any) answered {
	t.Helper()
	seen := make(answered, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case evt := <-b.requests:
				seen <- evt // before the ack, so that it is there when the action returns
				_ = b.client.Ack(*evt.Request, payload(evt))
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return seen
}

type outcome[T any] struct {
	value T
	err   error
}

// async starts a person's action, which returns only once the bot has answered, so that the test
// can play the bot meanwhile. The action ends at the latest when the server closes.
func async[T any](act func() (T, error)) <-chan outcome[T] {
	out := make(chan outcome[T], 1)
	go func() {
		v, err := act()
		out <- outcome[T]{v, err}
	}()
	return out
}

func await[T any](t *testing.T, pending <-chan outcome[T]) T {
	t.Helper()
	select {
	case r := <-pending:
		require.NoError(t, r.err)
		return r.value
	case <-time.After(waitLimit):
		t.Fatal("the action did not finish")
		var zero T
		return zero
	}
}

// rawBlock lets a test send Block Kit JSON exactly as written, including what slack-go's typed
// blocks cannot express (unknown types, misspelt properties).
type rawBlock string

func (b rawBlock) BlockType() slack.MessageBlockType { return "raw" }
func (b rawBlock) ID() string                        { return "" }
func (b rawBlock) MarshalJSON() ([]byte, error)      { return []byte(b), nil }

func blocks(raw ...string) slack.MsgOption {
	var set []slack.Block
	for _, r := range raw {
		set = append(set, rawBlock(r))
	}
	return slack.MsgOptionBlocks(set...)
}

// awaitChange returns the first change of kind.
func awaitChange(t *testing.T, changes <-chan fakeslack.Change, kind fakeslack.ChangeKind) fakeslack.Change {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case c := <-changes:
			if c.Kind == kind {
				return c
			}
		case <-timeout:
			t.Fatalf("no %s change", kind)
			return fakeslack.Change{}
		}
	}
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(raw, &v))
	return v
}
