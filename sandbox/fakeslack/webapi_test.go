package fakeslack_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// slackError returns the error code Slack answered, and its response_metadata messages.
func slackError(t *testing.T, err error) (string, []string) {
	t.Helper()
	var resp slack.SlackErrorResponse
	require.True(t, errors.As(err, &resp), "want a Slack error answer, got %v", err)
	return resp.Err, resp.ResponseMetadata.Messages
}

// roomy lifts chat.postMessage's per-channel limit for tests that post many messages at once.
var roomy = fakeslack.Options{RateLimits: fakeslack.RateLimits{PostMessageBurst: 1000}}

func TestWebAPIRefusesWhatSlackRefuses(t *testing.T) {
	t.Parallel()
	opts := roomy
	opts.AckDeadline = 50 * time.Millisecond // no bot is connected: Alice's message event fails fast
	srv := newServer(t, opts)
	ctx := context.Background()
	api := botAPI(srv)
	aliceSays, _, err := srv.PostAsUser(ctx, fakeslack.Alice, fakeslack.Deploys, "hello", "")
	require.NoError(t, err)
	_, botSays, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("status", false))
	require.NoError(t, err)
	require.NoError(t, api.AddPin(fakeslack.Deploys, slack.ItemRef{Timestamp: botSays}))
	private, err := srv.CreateChannel(fakeslack.Carol, "carols-corner")
	require.NoError(t, err)
	botsOwn, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "release-train"})
	require.NoError(t, err)

	tests := []struct {
		name string
		call func(api *slack.Client) error
		want string
	}{
		{"unknown channel", func(api *slack.Client) error {
			_, _, err := api.PostMessage("C0NOSUCH", slack.MsgOptionText("hi", false))
			return err
		}, "channel_not_found"},
		{"channel the bot is not in", func(api *slack.Client) error {
			_, _, err := api.PostMessage(private, slack.MsgOptionText("hi", false))
			return err
		}, "not_in_channel"},
		{"wrong token", func(*slack.Client) error {
			_, err := slack.New("xoxb-wrong", slack.OptionAPIURL(srv.APIURL())).AuthTest()
			return err
		}, "invalid_auth"},
		{"no token", func(*slack.Client) error {
			_, err := slack.New("", slack.OptionAPIURL(srv.APIURL())).AuthTest()
			return err
		}, "not_authed"},
		{"app token on a bot method", func(*slack.Client) error {
			_, err := slack.New(fakeslack.AppToken, slack.OptionAPIURL(srv.APIURL())).AuthTest()
			return err
		}, "not_allowed_token_type"},
		{"unknown method", func(api *slack.Client) error {
			_, err := api.GetTeamInfo()
			return err
		}, "unknown_method"},
		{"thread that does not exist", func(api *slack.Client) error {
			_, _, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("hi", false), slack.MsgOptionTS("1700000000.000001"))
			return err
		}, "thread_not_found"},
		{"no text and no blocks", func(api *slack.Client) error {
			_, _, err := api.PostMessage(fakeslack.Deploys)
			return err
		}, "no_text"},
		{"text over 40000 characters", func(api *slack.Client) error {
			_, _, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText(strings.Repeat("x", 40001), false))
			return err
		}, "msg_too_long"},
		{"updating someone else's message", func(api *slack.Client) error {
			_, _, _, err := api.UpdateMessage(fakeslack.Deploys, aliceSays, slack.MsgOptionText("edited", false))
			return err
		}, "cant_update_message"},
		{"updating a message that does not exist", func(api *slack.Client) error {
			_, _, _, err := api.UpdateMessage(fakeslack.Deploys, "1700000000.000001", slack.MsgOptionText("edited", false))
			return err
		}, "message_not_found"},
		{"ephemeral for someone not in the channel", func(api *slack.Client) error {
			_, err := api.PostEphemeral(botsOwn.ID, fakeslack.Alice, slack.MsgOptionText("psst", false))
			return err
		}, "user_not_in_channel"},
		{"ephemeral for nobody", func(api *slack.Client) error {
			_, err := api.PostEphemeral(fakeslack.Deploys, "U0STRANGER", slack.MsgOptionText("psst", false))
			return err
		}, "user_not_found"},
		{"channel name taken", func(api *slack.Client) error {
			_, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "deploys"})
			return err
		}, "name_taken"},
		{"channel name with capitals", func(api *slack.Client) error {
			_, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "Inc-Checkout"})
			return err
		}, "invalid_name_specials"},
		{"channel name over 80 characters", func(api *slack.Client) error {
			_, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: strings.Repeat("a", 81)})
			return err
		}, "invalid_name_maxlength"},
		{"topic over 250 characters", func(api *slack.Client) error {
			_, err := api.SetTopicOfConversation(fakeslack.Incidents, strings.Repeat("t", 251))
			return err
		}, "too_long"},
		{"inviting a member", func(api *slack.Client) error {
			_, err := api.InviteUsersToConversation(fakeslack.Deploys, fakeslack.Bob)
			return err
		}, "already_in_channel"},
		{"pinning twice", func(api *slack.Client) error {
			return api.AddPin(fakeslack.Deploys, slack.ItemRef{Timestamp: botSays})
		}, "already_pinned"},
		{"email nobody has", func(api *slack.Client) error {
			_, err := api.GetUserByEmail("mallory@example.com")
			return err
		}, "users_not_found"},
		{"unknown trigger", func(api *slack.Client) error {
			_, err := api.OpenView("1.2.3", slack.ModalViewRequest{
				Type: slack.VTModal, Title: slack.NewTextBlockObject(slack.PlainTextType, "Declare", false, false),
				Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}},
			})
			return err
		}, "invalid_trigger_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _ := slackError(t, tt.call(api))
			require.Equal(t, tt.want, code)
		})
	}
}

func TestBlockKitLimits(t *testing.T) {
	t.Parallel()
	srv := newServer(t, roomy)
	api := botAPI(srv)
	section := func(text string) string {
		return `{"type":"section","text":{"type":"mrkdwn","text":"` + text + `"}}`
	}
	button := func(props string) string {
		return `{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Go"}` + props + `}]}`
	}
	repeat := func(item string, n int) []string {
		items := make([]string, n)
		for i := range items {
			items[i] = item
		}
		return items
	}
	long := func(n int) string { return strings.Repeat("x", n) }

	tests := []struct {
		name   string
		blocks []string
		want   string // one of Slack's messages, json pointer included
	}{
		{"51 blocks", repeat(`{"type":"divider"}`, 51), "no more than 50 items allowed [json-pointer:/blocks]"},
		{"section text over 3000", []string{section(long(3001))}, "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"},
		{"empty section text", []string{section("")}, "must be more than 0 characters [json-pointer:/blocks/0/text/text]"},
		{"11 section fields", []string{`{"type":"section","fields":[` + strings.Join(repeat(`{"type":"mrkdwn","text":"f"}`, 11), ",") + `]}`},
			"no more than 10 items allowed [json-pointer:/blocks/0/fields]"},
		{"section field over 2000", []string{`{"type":"section","fields":[{"type":"mrkdwn","text":"` + long(2001) + `"}]}`},
			"must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]"},
		{"section with neither text nor fields", []string{`{"type":"section"}`}, "missing required field: text [json-pointer:/blocks/0]"},
		{"header over 150", []string{`{"type":"header","text":{"type":"plain_text","text":"` + long(151) + `"}}`},
			"must be less than 151 characters [json-pointer:/blocks/0/text/text]"},
		{"header in mrkdwn", []string{`{"type":"header","text":{"type":"mrkdwn","text":"*Deploy*"}}`}, "[json-pointer:/blocks/0/text/type]"},
		{"26 actions", []string{`{"type":"actions","elements":[` + strings.Join(repeat(`{"type":"button","text":{"type":"plain_text","text":"b"}}`, 26), ",") + `]}`},
			"no more than 25 items allowed [json-pointer:/blocks/0/elements]"},
		{"11 context elements", []string{`{"type":"context","elements":[` + strings.Join(repeat(`{"type":"mrkdwn","text":"c"}`, 11), ",") + `]}`},
			"no more than 10 items allowed [json-pointer:/blocks/0/elements]"},
		{"block_id over 255", []string{`{"type":"divider","block_id":"` + long(256) + `"}`}, "must be less than 256 characters [json-pointer:/blocks/0/block_id]"},
		{"duplicate block_id", []string{`{"type":"divider","block_id":"a"}`, `{"type":"divider","block_id":"a"}`}, "duplicate block_id: a [json-pointer:/blocks/1/block_id]"},
		{"duplicate action_id in a block", []string{`{"type":"actions","elements":[` +
			`{"type":"button","action_id":"go","text":{"type":"plain_text","text":"a"}},` +
			`{"type":"button","action_id":"go","text":{"type":"plain_text","text":"b"}}]}`},
			"duplicate action_id: go [json-pointer:/blocks/0/elements/1/action_id]"},
		{"action_id over 255", []string{button(`,"action_id":"` + long(256) + `"`)}, "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]"},
		{"button text over 75", []string{`{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"` + long(76) + `"}}]}`},
			"must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"},
		{"button value over 2000", []string{button(`,"value":"` + long(2001) + `"`)}, "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]"},
		{"button url over 3000", []string{button(`,"url":"https://x/` + long(2991) + `"`)}, "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]"},
		{"button style", []string{button(`,"style":"secondary"`)}, "[json-pointer:/blocks/0/elements/0/style]"},
		{"confirm without deny", []string{button(`,"confirm":{"title":{"type":"plain_text","text":"Sure?"},"text":{"type":"mrkdwn","text":"Really"},"confirm":{"type":"plain_text","text":"Yes"}}`)},
			"missing required field: deny [json-pointer:/blocks/0/elements/0/confirm]"},
		{"input block in a message", []string{`{"type":"input","label":{"type":"plain_text","text":"Why"},"element":{"type":"plain_text_input"}}`},
			"input blocks are only allowed in views [json-pointer:/blocks/0/type]"},
		{"unknown block type", []string{`{"type":"sectoin","text":{"type":"mrkdwn","text":"x"}}`}, `unsupported type: "sectoin" [json-pointer:/blocks/0/type]`},
		{"unknown element type", []string{`{"type":"actions","elements":[{"type":"link","text":{"type":"plain_text","text":"x"}}]}`},
			`unsupported type: "link" [json-pointer:/blocks/0/elements/0/type]`},
		{"misspelt property", []string{button(`,"action_Id":"go"`)}, "invalid additional property: action_Id [json-pointer:/blocks/0/elements/0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("fallback", false), blocks(tt.blocks...))
			code, messages := slackError(t, err)
			require.Equal(t, "invalid_blocks", code)
			require.NotEmpty(t, messages)
			require.Contains(t, strings.Join(messages, "\n"), tt.want)
			for _, m := range messages {
				require.True(t, strings.HasPrefix(m, "[ERROR] "), "message %q is not in Slack's form", m)
			}
		})
	}

	t.Run("a card within every limit is accepted", func(t *testing.T) {
		t.Parallel()
		card := append(repeat(`{"type":"divider"}`, 45),
			`{"type":"header","text":{"type":"plain_text","text":"`+long(150)+`"}}`,
			section(long(3000)),
			`{"type":"section","fields":[`+strings.Join(repeat(`{"type":"mrkdwn","text":"`+long(2000)+`"}`, 10), ",")+`]}`,
			`{"type":"context","elements":[`+strings.Join(repeat(`{"type":"mrkdwn","text":"c"}`, 10), ",")+`]}`,
			`{"type":"actions","elements":[`+strings.Join(repeat(`{"type":"button","text":{"type":"plain_text","text":"`+long(75)+`"},"value":"`+long(2000)+`"}`, 25), ",")+`]}`,
		)
		_, _, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("card", false), blocks(card...))
		require.NoError(t, err)
	})
}

func TestViewLimits(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	api := botAPI(srv)
	title := func(text string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, text, false, false)
	}
	input := slack.NewInputBlock("reason", title("Reason"), nil, slack.NewPlainTextInputBlockElement(nil, "reason"))
	dividers := make([]slack.Block, 101)
	for i := range dividers {
		dividers[i] = slack.NewDividerBlock()
	}
	tests := []struct {
		name string
		view slack.ModalViewRequest
		want string
	}{
		{"title over 24", slack.ModalViewRequest{Type: slack.VTModal, Title: title(strings.Repeat("t", 25))},
			"must be less than 25 characters [json-pointer:/view/title/text]"},
		{"101 blocks", slack.ModalViewRequest{Type: slack.VTModal, Title: title("Declare"), Blocks: slack.Blocks{BlockSet: dividers}},
			"no more than 100 items allowed [json-pointer:/view/blocks]"},
		{"input without submit", slack.ModalViewRequest{Type: slack.VTModal, Title: title("Declare"), Blocks: slack.Blocks{BlockSet: []slack.Block{input}}},
			"missing required field: submit [json-pointer:/view]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := api.OpenView("1.2.3", tt.view)
			code, messages := slackError(t, err)
			require.Equal(t, "invalid_arguments", code)
			require.Contains(t, strings.Join(messages, "\n"), tt.want)
		})
	}
}

func TestRateLimitsAnswer429WithRetryAfter(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	api := botAPI(srv)

	for range 3 { // the burst
		_, _, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("progress", false))
		require.NoError(t, err)
	}
	_, _, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("one too many", false))
	var limited *slack.RateLimitedError
	require.ErrorAs(t, err, &limited)
	require.GreaterOrEqual(t, limited.RetryAfter, time.Second)

	_, _, err = api.PostMessage(fakeslack.Incidents, slack.MsgOptionText("another channel has its own allowance", false))
	require.NoError(t, err)

	srv.RateLimitNext(1)
	_, err = api.AuthTest()
	require.ErrorAs(t, err, &limited)
	require.Equal(t, time.Second, limited.RetryAfter)
	_, err = api.AuthTest()
	require.NoError(t, err)

	stats := srv.Stats()
	require.Equal(t, map[string]int{"chat.postMessage": 1, "auth.test": 1}, stats.RateLimited)
	require.Equal(t, 5, stats.Calls["chat.postMessage"])
}

func TestTierLimitsFollowOptions(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{RateLimits: fakeslack.RateLimits{PerMinute: map[string]int{"users.info": 2}}})
	api := botAPI(srv)
	for range 2 {
		_, err := api.GetUserInfo(fakeslack.Alice)
		require.NoError(t, err)
	}
	_, err := api.GetUserInfo(fakeslack.Alice)
	var limited *slack.RateLimitedError
	require.ErrorAs(t, err, &limited)
	require.Equal(t, 30*time.Second, limited.RetryAfter, "2 a minute refill one every 30 s")
	require.Equal(t, fakeslack.Tier3, fakeslack.DefaultRateLimits().PerMinute["chat.update"])
}

type refusingValidator struct{}

func (refusingValidator) ValidateRequest(r *http.Request, body []byte) error {
	if strings.HasSuffix(r.URL.Path, "/chat.postMessage") && strings.Contains(string(body), "forbidden") {
		return errors.New("chat.postMessage: text does not match the description")
	}
	return nil
}

func TestRequestValidatorRefusalsAreInvalidArguments(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{Validator: refusingValidator{}})
	api := botAPI(srv)

	_, _, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("forbidden", false))
	code, messages := slackError(t, err)
	require.Equal(t, "invalid_arguments", code)
	require.Equal(t, []string{"chat.postMessage: text does not match the description"}, messages)

	_, _, err = api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("fine", false))
	require.NoError(t, err)
	require.Equal(t, []fakeslack.Refusal{{
		Method: "chat.postMessage", Error: "invalid_arguments", Messages: messages,
	}}, srv.Stats().Refusals)
}

func TestHistoryThreadsAndMetadata(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	api := botAPI(srv)
	metadata := slack.SlackMetadata{EventType: "deploy_card", EventPayload: map[string]any{"run_id": "42"}}
	_, card, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("Deploy v1.4.0", false), slack.MsgOptionMetadata(metadata))
	require.NoError(t, err)
	_, reply, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("CI passed", false), slack.MsgOptionTS(card))
	require.NoError(t, err)
	_, later, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("Deploy v1.4.1", false))
	require.NoError(t, err)
	require.Less(t, card, reply)
	require.Less(t, reply, later)

	history, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{
		ChannelID: fakeslack.Deploys, IncludeAllMetadata: true,
	})
	require.NoError(t, err)
	require.Len(t, history.Messages, 2, "replies stay in their thread")
	require.Equal(t, later, history.Messages[0].Timestamp, "newest first")
	require.Equal(t, card, history.Messages[1].Timestamp)
	require.Equal(t, metadata.EventType, history.Messages[1].Metadata.EventType)
	require.Equal(t, "42", history.Messages[1].Metadata.EventPayload["run_id"])
	require.Equal(t, 1, history.Messages[1].ReplyCount)
	require.Equal(t, fakeslack.BotID, history.Messages[1].BotID)

	plain, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: fakeslack.Deploys, Oldest: card, Limit: 1})
	require.NoError(t, err)
	require.Len(t, plain.Messages, 1)
	require.Equal(t, later, plain.Messages[0].Timestamp, "oldest is exclusive")
	require.Empty(t, plain.Messages[0].Metadata.EventType, "metadata only when asked for")

	replies, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: fakeslack.Deploys, Timestamp: card})
	require.NoError(t, err)
	require.Len(t, replies, 2)
	require.Equal(t, "CI passed", replies[1].Text)
	require.Equal(t, card, replies[1].ThreadTimestamp)

	_, _, _, err = api.UpdateMessage(fakeslack.Deploys, card, slack.MsgOptionText("Deploy v1.4.0 — done", false))
	require.NoError(t, err)
	msgs := srv.Messages(fakeslack.Deploys)
	require.Equal(t, "Deploy v1.4.0 — done", msgs[0].Text)
	require.True(t, msgs[0].Edited)
}

func TestWorkspaceDirectoryAndChannels(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	api := botAPI(srv)
	changes := srv.Subscribe(context.Background())

	alice, err := api.GetUserByEmail("alice@example.com")
	require.NoError(t, err)
	require.Equal(t, fakeslack.Alice, alice.ID)
	require.Equal(t, "Alice", alice.RealName)
	require.Equal(t, "UTC", alice.TZ)
	users, err := api.GetUsers()
	require.NoError(t, err)
	require.Len(t, users, 5, "four people and the bot")

	groups, err := api.GetUserGroups(slack.GetUserGroupsOptionIncludeUsers(true))
	require.NoError(t, err)
	handles := map[string][]string{}
	for _, g := range groups {
		handles[g.Handle] = g.Users
	}
	require.Equal(t, map[string][]string{
		"deployers": {fakeslack.Alice}, "product-owners": {fakeslack.Bob}, "oncall": {fakeslack.Carol},
	}, handles)
	owners, err := api.GetUserGroupMembers(fakeslack.ProductOwners)
	require.NoError(t, err)
	require.Equal(t, []string{fakeslack.Bob}, owners)

	channels, _, err := api.GetConversations(&slack.GetConversationsParameters{})
	require.NoError(t, err)
	require.Len(t, channels, 3)

	created, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-20261125-checkout-errors"})
	require.NoError(t, err)
	require.Equal(t, fakeslack.ChannelCreated, awaitChange(t, changes, fakeslack.ChannelCreated).Kind)
	_, err = api.InviteUsersToConversation(created.ID, fakeslack.Carol, fakeslack.Dave)
	require.NoError(t, err)
	require.Equal(t, []string{fakeslack.Carol, fakeslack.Dave}, awaitChange(t, changes, fakeslack.MembersInvited).Members)
	_, err = api.SetTopicOfConversation(created.ID, "SEV1 · commander @carol")
	require.NoError(t, err)
	require.Equal(t, "SEV1 · commander @carol", awaitChange(t, changes, fakeslack.TopicSet).Text)

	info, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: created.ID})
	require.NoError(t, err)
	require.Equal(t, "SEV1 · commander @carol", info.Topic.Value)
	require.Equal(t, 3, info.NumMembers)
	members, _, err := api.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: created.ID, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{fakeslack.BotUserID, fakeslack.Carol}, members, "the first page")
	snapshot, ok := srv.Channel("inc-20261125-checkout-errors")
	require.True(t, ok)
	require.Equal(t, created.ID, snapshot.ID)

	_, ts, err := api.PostMessage(created.ID, slack.MsgOptionText("Declared", false))
	require.NoError(t, err)
	link, err := api.GetPermalink(&slack.PermalinkParameters{Channel: created.ID, Ts: ts})
	require.NoError(t, err)
	require.Equal(t, "https://sandbox.slack.com/archives/"+created.ID+"/p"+strings.ReplaceAll(ts, ".", ""), link)
	require.NoError(t, api.AddPin(created.ID, slack.ItemRef{Timestamp: ts}))
	pins, _, err := api.ListPins(created.ID)
	require.NoError(t, err)
	require.Len(t, pins, 1)
	require.Equal(t, ts, pins[0].Message.Timestamp)
}

func TestAckLatencyQuantiles(t *testing.T) {
	t.Parallel()
	var st fakeslack.Stats
	require.Zero(t, st.AckLatency(0.5))
	for i := 100; i >= 1; i-- {
		st.AckLatencies = append(st.AckLatencies, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}}
	for _, tt := range tests {
		require.Equal(t, tt.want, st.AckLatency(tt.q), "q=%v", tt.q)
	}
}
