package slackapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/integrations/slackapi"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// newClient starts a sandbox workspace and a client of it as the bot.
func newClient(t *testing.T) (*slackapi.Client, *fakeslack.Server) {
	t.Helper()
	srv, err := fakeslack.New(fakeslack.Options{AckDeadline: 50 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	api := slack.New(fakeslack.BotToken, slack.OptionAPIURL(srv.APIURL()))
	return slackapi.New(api, clock.Real{}, time.Minute), srv
}

func TestCreateChannelFindsTheChannelItCreatedBefore(t *testing.T) {
	t.Parallel()
	c, srv := newClient(t)
	ctx := context.Background()

	first, err := c.CreateChannel(ctx, "inc-20261125-checkout-errors")
	require.NoError(t, err)
	again, err := c.CreateChannel(ctx, "inc-20261125-checkout-errors")
	require.NoError(t, err, "a retried step finds its channel instead of failing on name_taken")
	require.Equal(t, first, again)

	info, ok := srv.Channel(first.ID)
	require.True(t, ok)
	require.Equal(t, "inc-20261125-checkout-errors", info.Name)

	found, ok, err := c.FindChannel(ctx, "inc-20261125-checkout-errors")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, first, found)
	_, ok, err = c.FindChannel(ctx, "inc-20261125-nothing")
	require.NoError(t, err)
	require.False(t, ok)

	_, err = c.CreateChannel(ctx, "Not A Name")
	require.Error(t, err)
	_, retry := slackapi.RetryAfter(err)
	require.False(t, retry, "a name Slack refuses is refused again")
}

func TestInviteAndPinAreIdempotent(t *testing.T) {
	t.Parallel()
	c, srv := newClient(t)
	ctx := context.Background()
	ch, err := c.CreateChannel(ctx, "inc-20261125-pins")
	require.NoError(t, err)

	require.NoError(t, c.Invite(ctx, ch.ID, fakeslack.Carol, fakeslack.Bob))
	require.NoError(t, c.Invite(ctx, ch.ID, fakeslack.Carol, fakeslack.Alice), "someone in the channel already is no problem")
	info, _ := srv.Channel(ch.ID)
	require.ElementsMatch(t, []string{fakeslack.BotUserID, fakeslack.Carol, fakeslack.Bob, fakeslack.Alice}, info.Members)
	require.Error(t, c.Invite(ctx, ch.ID, "U0NOBODY"))

	require.NoError(t, c.SetTopic(ctx, ch.ID, "SEV1 · investigating · commander @carol"))
	info, _ = srv.Channel(ch.ID)
	require.Equal(t, "SEV1 · investigating · commander @carol", info.Topic)

	_, ts, err := slack.New(fakeslack.BotToken, slack.OptionAPIURL(srv.APIURL())).PostMessage(ch.ID, slack.MsgOptionText("summary", false))
	require.NoError(t, err)
	require.NoError(t, c.Pin(ctx, ch.ID, ts))
	require.NoError(t, c.Pin(ctx, ch.ID, ts), "a message pinned already stays pinned")
	require.Len(t, srv.Pins(ch.ID), 1)
}

func TestUsersAndMessages(t *testing.T) {
	t.Parallel()
	c, srv := newClient(t)
	ctx := context.Background()

	id, err := c.UserByEmail(ctx, "carol@example.com")
	require.NoError(t, err)
	require.Equal(t, fakeslack.Carol, id)
	_, err = c.UserByEmail(ctx, "nobody@example.com")
	require.ErrorIs(t, err, slackapi.ErrNotFound)

	bob, err := c.User(ctx, fakeslack.Bob)
	require.NoError(t, err)
	require.Equal(t, slackapi.User{ID: fakeslack.Bob, Name: "bob", Email: "bob@example.com"}, bob)

	members, err := c.GroupMembers(ctx, fakeslack.Oncall)
	require.NoError(t, err)
	require.Equal(t, []string{fakeslack.Carol}, members)

	self, err := c.Self(ctx)
	require.NoError(t, err)
	require.Equal(t, fakeslack.BotUserID, self)

	parent, _, err := srv.PostAsUser(ctx, fakeslack.Alice, fakeslack.Incidents, "errors are up", "")
	require.NoError(t, err)
	reply, _, err := srv.PostAsUser(ctx, fakeslack.Bob, fakeslack.Incidents, "it started at 14:02", parent)
	require.NoError(t, err)
	for _, want := range []struct{ ts, user, text string }{{parent, fakeslack.Alice, "errors are up"}, {reply, fakeslack.Bob, "it started at 14:02"}} {
		m, err := c.Message(ctx, fakeslack.Incidents, want.ts)
		require.NoError(t, err)
		require.Equal(t, want.user, m.User)
		require.Equal(t, want.text, m.Text)
		at, err := slackapi.TSTime(want.ts)
		require.NoError(t, err)
		require.Equal(t, at, m.At)
	}
	_, err = c.Message(ctx, fakeslack.Incidents, "1.000001")
	require.ErrorIs(t, err, slackapi.ErrNotFound)
}

func TestRetryAfterTellsTransientFromFinal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   error
		retry bool
		after time.Duration
	}{
		{"rate limited", &slack.RateLimitedError{RetryAfter: 3 * time.Second}, true, 3 * time.Second},
		{"server error", slack.StatusCodeError{Code: http.StatusBadGateway}, true, 0},
		{"slack's own failure", slack.SlackErrorResponse{Err: "internal_error"}, true, 0},
		{"no answer", errors.New("connection reset"), true, 0},
		{"refused by name", slack.SlackErrorResponse{Err: "channel_not_found"}, false, 0},
		{"bad request", slack.StatusCodeError{Code: http.StatusBadRequest}, false, 0},
		{"cancelled", context.Canceled, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			after, retry := slackapi.RetryAfter(tt.err)
			require.Equal(t, tt.retry, retry)
			require.Equal(t, tt.after, after)
		})
	}
}

func TestTSTime(t *testing.T) {
	t.Parallel()
	at, err := slackapi.TSTime("1732570000.000100")
	require.NoError(t, err)
	require.Equal(t, time.Unix(1732570000, 100_000).UTC(), at)
	_, err = slackapi.TSTime("yesterday")
	require.Error(t, err)
}
