package apispec_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/apispec"
)

// TestSlackAcceptsWhatSlackGoSends sends the Web API calls opsbot makes through the real
// slack-go client and checks that Slack's description, as patched, accepts every one of them.
func TestSlackAcceptsWhatSlackGoSends(t *testing.T) {
	t.Parallel()
	v, err := apispec.Slack(specsDir(t))
	require.NoError(t, err)

	var mu sync.Mutex
	refused := map[string]error{} // method → the validator's verdict
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		if err := v.ValidateRequest(r, body); err != nil {
			mu.Lock()
			refused[strings.TrimPrefix(r.URL.Path, "/api/")] = err
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	api := slack.New("xoxb-1", slack.OptionAppLevelToken("xapp-1"), slack.OptionAPIURL(srv.URL+"/api/"))
	ctx := context.Background()
	blocks := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*v1.4.0*", false, false), nil, nil))
	modal := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Declare", false, false)}

	// Only the requests matter here; slack-go's reading of the bare {"ok":true} answer does not.
	calls := map[string]func(){
		"auth.test":             func() { _, _ = api.AuthTestContext(ctx) },
		"apps.connections.open": func() { _, _, _ = api.StartSocketModeContext(ctx) },
		"chat.postMessage":      func() { _, _, _ = api.PostMessageContext(ctx, "C0DEPLOYS", blocks, slack.MsgOptionTS("1.2")) },
		"chat.update":           func() { _, _, _, _ = api.UpdateMessageContext(ctx, "C0DEPLOYS", "1.2", blocks) },
		"chat.postEphemeral":    func() { _, _ = api.PostEphemeralContext(ctx, "C0DEPLOYS", "U0ALICE", slack.MsgOptionText("hi", false)) },
		"chat.getPermalink": func() {
			_, _ = api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: "C0DEPLOYS", Ts: "1.2"})
		},
		"conversations.create": func() {
			_, _ = api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-1"})
		},
		"conversations.setTopic": func() { _, _ = api.SetTopicOfConversationContext(ctx, "C0INC", "SEV1") },
		"conversations.invite":   func() { _, _ = api.InviteUsersToConversationContext(ctx, "C0INC", "U0ALICE", "U0BOB") },
		"conversations.info": func() {
			_, _ = api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "C0INC"})
		},
		"conversations.list": func() { _, _, _ = api.GetConversationsContext(ctx, &slack.GetConversationsParameters{Limit: 100}) },
		"conversations.history": func() {
			_, _ = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C0DEPLOYS", Limit: 10, IncludeAllMetadata: true})
		},
		"conversations.replies": func() {
			_, _, _, _ = api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C0DEPLOYS", Timestamp: "1.2"})
		},
		"conversations.members": func() {
			_, _, _ = api.GetUsersInConversationContext(ctx, &slack.GetUsersInConversationParameters{ChannelID: "C0INC"})
		},
		"pins.add":              func() { _ = api.AddPinContext(ctx, "C0INC", slack.NewRefToMessage("C0INC", "1.2")) },
		"pins.list":             func() { _, _, _ = api.ListPinsContext(ctx, "C0INC") },
		"reactions.add":         func() { _ = api.AddReactionContext(ctx, "eyes", slack.NewRefToMessage("C0INC", "1.2")) },
		"users.info":            func() { _, _ = api.GetUserInfoContext(ctx, "U0ALICE") },
		"users.list":            func() { _, _ = api.GetUsersContext(ctx) },
		"users.lookupByEmail":   func() { _, _ = api.GetUserByEmailContext(ctx, "alice@example.com") },
		"usergroups.list":       func() { _, _ = api.GetUserGroupsContext(ctx) },
		"usergroups.users.list": func() { _, _ = api.GetUserGroupMembersContext(ctx, "S0OWNERS") },
		"views.open":            func() { _, _ = api.OpenViewContext(ctx, "1337.42", modal) },
		"views.push":            func() { _, _ = api.PushViewContext(ctx, "1337.42", modal) },
		"views.update":          func() { _, _ = api.UpdateViewContext(ctx, modal, "", "", "V0MODAL") },
	}
	for method, call := range calls {
		t.Run(method, func(t *testing.T) {
			call()
			mu.Lock()
			defer mu.Unlock()
			require.NoError(t, refused[method])
		})
	}
}
