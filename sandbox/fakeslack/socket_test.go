package fakeslack_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// reconnects lets a test's bot call apps.connections.open more than Tier 1's once a minute.
var reconnects = fakeslack.RateLimits{PerMinute: map[string]int{"apps.connections.open": 100}}

func TestSlashCommandReachesTheBotAndItsReplyIsShown(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	ctx := context.Background()
	changes := srv.Subscribe(ctx)

	bot := startBot(t, srv)
	require.Equal(t, 1, bot.hello.Request.NumConnections)
	require.Equal(t, fakeslack.AppID, bot.hello.Request.ConnectionInfo.AppID)
	require.NotEmpty(t, bot.hello.Request.DebugInfo.Host)

	pending := async(func() (fakeslack.Delivery, error) {
		return srv.SlashCommand(ctx, fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.4.0 to production")
	})
	evt := bot.next(t)
	require.Equal(t, socketmode.EventTypeSlashCommand, evt.Type)
	require.True(t, evt.Request.AcceptsResponsePayload)
	require.Zero(t, evt.Request.RetryAttempt)
	require.NotEmpty(t, evt.Request.EnvelopeID)
	cmd := evt.Data.(slack.SlashCommand)
	require.Equal(t, slack.SlashCommand{
		Token: cmd.Token, TeamID: fakeslack.TeamID, TeamDomain: fakeslack.TeamDomain,
		ChannelID: fakeslack.Deploys, ChannelName: "deploys", UserID: fakeslack.Alice, UserName: "alice",
		Command: "/deploy", Text: "v1.4.0 to production", APIAppID: fakeslack.AppID,
		ResponseURL: cmd.ResponseURL, TriggerID: cmd.TriggerID,
	}, cmd)
	require.NotEmpty(t, cmd.Token)
	require.NotEmpty(t, cmd.ResponseURL)
	require.NotEmpty(t, cmd.TriggerID)

	require.NoError(t, bot.client.Ack(*evt.Request, map[string]any{"text": "Deploying v1.4.0"}))
	d := await(t, pending)
	require.True(t, d.Acked)
	require.Zero(t, d.Retries)
	require.JSONEq(t, `{"text":"Deploying v1.4.0"}`, string(d.Payload))

	shown := awaitChange(t, changes, fakeslack.EphemeralShown)
	require.Equal(t, fakeslack.Alice, shown.For)
	require.Equal(t, "Deploying v1.4.0", shown.Text)
	require.Equal(t, fakeslack.Deploys, shown.ChannelID)
	require.Equal(t, "deploys", shown.ChannelName)

	stats := srv.Stats()
	require.Equal(t, 1, stats.Acked)
	require.Len(t, stats.AckLatencies, 1)
	require.Zero(t, srv.Outstanding())
}

func TestInChannelReplyIsPostedToTheChannel(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	bot := startBot(t, srv)
	bot.answer(t, func(socketmode.Event) any {
		return map[string]any{"response_type": "in_channel", "text": "Incident declared"}
	})

	_, err := srv.SlashCommand(context.Background(), fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev1 checkout")
	require.NoError(t, err)
	msgs := srv.Messages(fakeslack.Incidents)
	require.Len(t, msgs, 1)
	require.Equal(t, "Incident declared", msgs[0].Text)
	require.Equal(t, fakeslack.BotUserID, msgs[0].User)
	require.Empty(t, msgs[0].For)
}

func TestSlashCommandTextIsEscapedAsSlackEscapesIt(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	bot := startBot(t, srv)
	seen := bot.answer(t, func(socketmode.Event) any { return nil })

	tests := []struct{ typed, sent string }{
		{"page @carol", "page <@U0CAROL|carol>"},
		{"notify #stakeholders now", "notify <#C0STAKE|stakeholders> now"},
		{"@channel and @here and @everyone", "<!channel> and <!here> and <!everyone>"},
		{"ask @product-owners", "ask <!subteam^S0OWNERS|@product-owners>"},
		{"thanks @alice.", "thanks <@U0ALICE|alice>."},
		{"(@bob)", "(<@U0BOB|bob>)"},
		{"mail alice@example.com", "mail alice@example.com"},
		{"@mallory is unknown", "@mallory is unknown"},
		{"a <b> & c", "a &lt;b&gt; &amp; c"},
	}
	for _, tt := range tests { // one bot, so in sequence
		_, err := srv.SlashCommand(context.Background(), fakeslack.Alice, fakeslack.Incidents, "/incident", tt.typed)
		require.NoError(t, err)
		evt := seen.next(t)
		require.Equal(t, tt.sent, evt.Data.(slack.SlashCommand).Text, "typed %q", tt.typed)
	}
}

func TestUnackedEnvelopeIsRedeliveredAfterTheDeadline(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{AckDeadline: 100 * time.Millisecond})
	bot := startBot(t, srv)
	ctx := context.Background()

	pending := async(func() (fakeslack.Delivery, error) {
		return srv.SlashCommand(ctx, fakeslack.Alice, fakeslack.Deploys, "/deploy", "status")
	})
	first := bot.next(t) // not acked
	retry := bot.next(t)
	require.Equal(t, first.Request.EnvelopeID, retry.Request.EnvelopeID)
	require.Equal(t, 1, retry.Request.RetryAttempt)
	require.Equal(t, "timeout", retry.Request.RetryReason)
	require.Equal(t, first.Data, retry.Data)
	require.NoError(t, bot.client.Ack(*retry.Request))

	d := await(t, pending)
	require.True(t, d.Acked)
	require.Equal(t, 1, d.Retries)
	require.Equal(t, 1, srv.Stats().Retries)
}

func TestLateAndUnknownAcksAreRecorded(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{AckDeadline: 50 * time.Millisecond})
	bot := startBot(t, srv)
	ctx := context.Background()

	// Acked only once the retry shows the deadline has passed.
	pending := async(func() (fakeslack.Delivery, error) {
		return srv.SlashCommand(ctx, fakeslack.Alice, fakeslack.Deploys, "/deploy", "status")
	})
	first := bot.next(t)
	bot.next(t)
	require.NoError(t, bot.client.Ack(*first.Request))
	require.True(t, await(t, pending).Acked)

	// Never acked: after three retries Slack gives up; an ack after that is late too.
	pending = async(func() (fakeslack.Delivery, error) {
		return srv.SlashCommand(ctx, fakeslack.Alice, fakeslack.Deploys, "/deploy", "history")
	})
	var attempts []int
	var abandoned socketmode.Event
	for range 4 {
		abandoned = bot.next(t)
		attempts = append(attempts, abandoned.Request.RetryAttempt)
	}
	require.Equal(t, []int{0, 1, 2, 3}, attempts)
	d := await(t, pending)
	require.False(t, d.Acked)
	require.Equal(t, 3, d.Retries)
	require.NoError(t, bot.client.Ack(*abandoned.Request))

	require.NoError(t, bot.client.Ack(socketmode.Request{EnvelopeID: "no-such-envelope"}))

	require.Eventually(t, func() bool {
		st := srv.Stats()
		return st.LateAcks == 2 && st.UnknownAcks == 1
	}, waitLimit, 5*time.Millisecond)
	st := srv.Stats()
	require.Equal(t, 1, st.Expired)
	require.Len(t, st.AckErrors, 3)
	require.Zero(t, srv.Outstanding())
}

func TestDispatchFailsWhenNoConnectionIsOpen(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{AckDeadline: 50 * time.Millisecond})
	changes := srv.Subscribe(context.Background())

	d, err := srv.SlashCommand(context.Background(), fakeslack.Bob, fakeslack.Deploys, "/release", "v1.4.0")
	require.NoError(t, err)
	require.True(t, d.DispatchFailed)
	require.False(t, d.Acked)

	failed := awaitChange(t, changes, fakeslack.DispatchFailed)
	require.Equal(t, fakeslack.Bob, failed.For)
	require.Contains(t, failed.Text, "dispatch_failed")
	require.Equal(t, 1, srv.Stats().DispatchFailed)
}

func TestBotKeepsReceivingAfterItsConnectionEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cut  func(*fakeslack.Server)
	}{
		{"refresh requested", func(s *fakeslack.Server) { s.Disconnect(fakeslack.DisconnectRefreshRequested) }},
		{"warning", func(s *fakeslack.Server) { s.Disconnect(fakeslack.DisconnectWarning) }},
		{"link disabled", func(s *fakeslack.Server) { s.Disconnect(fakeslack.DisconnectLinkDisabled) }},
		{"TCP dropped", (*fakeslack.Server).DropSockets},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, fakeslack.Options{RateLimits: reconnects})
			bot := startBot(t, srv)

			tt.cut(srv)
			bot.awaitHello(t) // slack-go reconnected
			bot.answer(t, func(socketmode.Event) any { return nil })
			d, err := srv.SlashCommand(context.Background(), fakeslack.Alice, fakeslack.Deploys, "/deploy", "status")
			require.NoError(t, err)
			require.True(t, d.Acked)
		})
	}
}

func TestDuplicateNextDeliversTheEnvelopeTwice(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	bot := startBot(t, srv)
	seen := bot.answer(t, func(socketmode.Event) any { return nil })

	srv.DuplicateNext(1)
	d, err := srv.SlashCommand(context.Background(), fakeslack.Alice, fakeslack.Deploys, "/deploy", "status")
	require.NoError(t, err)
	require.True(t, d.Acked)
	first, second := seen.next(t), seen.next(t)
	require.Equal(t, first.Request.EnvelopeID, second.Request.EnvelopeID)
	require.Equal(t, []int{0, 1}, []int{first.Request.RetryAttempt, second.Request.RetryAttempt})

	require.Eventually(t, func() bool { return srv.Stats().EnvelopesSent == 2 }, waitLimit, 5*time.Millisecond)
	st := srv.Stats()
	require.Equal(t, 1, st.Duplicates)
	require.Empty(t, st.AckErrors, "acking each delivery of a duplicate is correct")
}

func TestEnvelopesAreSpreadOverConnections(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{RateLimits: reconnects})
	one, two := startBot(t, srv), startBot(t, srv)
	seenByOne := one.answer(t, func(socketmode.Event) any { return nil })
	seenByTwo := two.answer(t, func(socketmode.Event) any { return nil })

	for range 4 {
		_, err := srv.SlashCommand(context.Background(), fakeslack.Alice, fakeslack.Deploys, "/deploy", "status")
		require.NoError(t, err)
	}
	require.Len(t, seenByOne, 2)
	require.Len(t, seenByTwo, 2)
}

func TestUserActionsSendEvents(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	bot := startBot(t, srv)
	seen := bot.answer(t, func(socketmode.Event) any { return nil })
	ctx := context.Background()
	_, card, err := bot.api.PostMessage(fakeslack.Incidents, slack.MsgOptionText("SEV1 checkout errors", false))
	require.NoError(t, err)

	_, err = srv.Pin(ctx, fakeslack.Carol, fakeslack.Incidents, card)
	require.NoError(t, err)
	pinned := seen.next(t).Data.(slackevents.EventsAPIEvent)
	require.Equal(t, slackevents.CallbackEvent, pinned.Type)
	pin := pinned.InnerEvent.Data.(*slackevents.PinAddedEvent)
	require.Equal(t, fakeslack.Carol, pin.User)
	require.Equal(t, fakeslack.Incidents, pin.Channel)
	require.Equal(t, card, pin.Item.Message.Timestamp)
	require.Len(t, srv.Pins(fakeslack.Incidents), 1)

	_, err = srv.React(ctx, fakeslack.Dave, fakeslack.Incidents, card, "eyes")
	require.NoError(t, err)
	reacted := seen.next(t).Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.ReactionAddedEvent)
	require.Equal(t, "eyes", reacted.Reaction)
	require.Equal(t, fakeslack.BotUserID, reacted.ItemUser)
	require.Equal(t, card, reacted.Item.Timestamp)

	ts, _, err := srv.PostAsUser(ctx, fakeslack.Alice, fakeslack.Incidents, "@opsbot status please", card)
	require.NoError(t, err)
	mention := seen.next(t).Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.AppMentionEvent)
	require.Equal(t, "<@U0OPSBOT> status please", mention.Text)
	require.Equal(t, ts, mention.TimeStamp)
	require.Equal(t, card, mention.ThreadTimeStamp)
}

func TestSocketModeConnectionRules(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{PingInterval: 10 * time.Millisecond, RateLimits: reconnects})
	api := botAPI(srv)
	dial := func() (*websocket.Conn, string) {
		t.Helper()
		_, url, err := api.StartSocketModeContext(context.Background())
		require.NoError(t, err)
		conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		t.Cleanup(func() { _ = conn.Close() })
		return conn, url
	}
	frame := func(conn *websocket.Conn) map[string]any {
		t.Helper()
		var f map[string]any
		require.NoError(t, conn.ReadJSON(&f))
		return f
	}

	first, url := dial()
	require.Equal(t, "hello", frame(first)["type"])
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	require.Error(t, err, "a ticket is good for one connection")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.NoError(t, resp.Body.Close())

	pinged := make(chan struct{}, 1)
	first.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})
	go func() { // control frames are handled while reading
		for {
			if _, _, err := first.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pinged:
	case <-time.After(waitLimit):
		t.Fatal("the connection was never pinged")
	}

	for n := 2; n <= 10; n++ {
		conn, _ := dial()
		require.Equal(t, float64(n), frame(conn)["num_connections"])
	}
	eleventh, _ := dial()
	refused := frame(eleventh)
	require.Equal(t, "disconnect", refused["type"])
	require.Equal(t, "too_many_websockets", refused["reason"])
}
