package fakeslack_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

func plain(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, text, false, false)
}

// postApprovalRequest posts the product-owner approval request: Approve asks for confirmation.
func postApprovalRequest(t *testing.T, api *slack.Client) string {
	t.Helper()
	approve := slack.NewButtonBlockElement("approve", "v1.4.0", plain("Approve")).
		WithStyle(slack.StylePrimary).
		WithConfirm(slack.NewConfirmationBlockObject(plain("Approve v1.4.0?"),
			slack.NewTextBlockObject(slack.MarkdownType, "Deploys *a1b2c3d* to production", false, false),
			plain("Yes, deploy"), plain("Not yet")))
	reject := slack.NewButtonBlockElement("reject", "v1.4.0", plain("Reject")).WithStyle(slack.StyleDanger)
	_, ts, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("v1.4.0 is ready for production", false),
		slack.MsgOptionBlocks(
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "v1.4.0 is ready for production", false, false), nil, nil),
			slack.NewActionBlock("approval", approve, reject),
		))
	require.NoError(t, err)
	return ts
}

func TestButtonWithConfirmOpensSlacksDialogFirst(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	ctx := context.Background()
	changes := srv.Subscribe(ctx)
	bot := startBot(t, srv)
	card := postApprovalRequest(t, bot.api)

	d, err := srv.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "approve")
	require.NoError(t, err)
	require.True(t, d.AwaitingConfirm)
	opened := awaitChange(t, changes, fakeslack.ConfirmOpened)
	require.Equal(t, fakeslack.Bob, opened.For)
	require.Equal(t, card, opened.TS)
	dialog := decode[slack.ConfirmationBlockObject](t, opened.Confirm)
	require.Equal(t, "Yes, deploy", dialog.Confirm.Text)

	_, err = srv.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Reject")
	require.ErrorContains(t, err, "has a confirmation dialog open", "the dialog is in the way")
	d, err = srv.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Not yet")
	require.NoError(t, err)
	require.Equal(t, fakeslack.Delivery{}, d, "deny sends nothing")
	awaitChange(t, changes, fakeslack.ConfirmClosed)
	require.Empty(t, bot.requests)

	_, err = srv.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Approve")
	require.NoError(t, err)
	pending := async(func() (fakeslack.Delivery, error) {
		return srv.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "yes, deploy")
	})
	evt := bot.next(t)
	require.Equal(t, socketmode.EventTypeInteractive, evt.Type)
	require.False(t, evt.Request.AcceptsResponsePayload)
	cb := evt.Data.(slack.InteractionCallback)
	require.Equal(t, slack.InteractionTypeBlockActions, cb.Type)
	require.Equal(t, fakeslack.Bob, cb.User.ID)
	require.Equal(t, "bob", cb.User.Name)
	require.Equal(t, fakeslack.TeamID, cb.Team.ID)
	require.Equal(t, fakeslack.Deploys, cb.Channel.ID)
	require.Equal(t, slack.Container{Type: "message", MessageTs: card, ChannelID: fakeslack.Deploys}, cb.Container)
	require.Equal(t, card, cb.Message.Timestamp)
	require.NotEmpty(t, cb.TriggerID)
	require.NotEmpty(t, cb.ResponseURL)
	require.Len(t, cb.ActionCallback.BlockActions, 1)
	action := cb.ActionCallback.BlockActions[0]
	require.Equal(t, "approve", action.ActionID)
	require.Equal(t, "approval", action.BlockID)
	require.Equal(t, "v1.4.0", action.Value)
	require.Equal(t, "Approve", action.Text.Text)
	require.NotEmpty(t, action.ActionTs)
	require.NoError(t, bot.client.Ack(*evt.Request))
	require.True(t, await(t, pending).Acked)

	// The bot answers through the response_url, replacing the request in place.
	_, _, _, err = bot.api.SendMessage("", slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText("Approved by <@U0BOB>", false))
	require.NoError(t, err)
	updated := awaitChange(t, changes, fakeslack.MessageUpdated)
	require.Equal(t, card, updated.TS)
	require.Equal(t, "Approved by <@U0BOB>", srv.Messages(fakeslack.Deploys)[0].Text)
}

func TestClickFindsTheNewestVisibleButton(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	ctx := context.Background()
	bot := startBot(t, srv)
	seen := bot.answer(t, func(socketmode.Event) any { return nil })
	older := postApprovalRequest(t, bot.api)
	newer := postApprovalRequest(t, bot.api)
	retry := slack.NewButtonBlockElement("retry", "run-7", plain("Retry"))
	_, err := bot.api.PostEphemeral(fakeslack.Deploys, fakeslack.Alice, slack.MsgOptionText("CI failed", false),
		slack.MsgOptionBlocks(slack.NewActionBlock("", retry)))
	require.NoError(t, err)

	_, err = srv.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Retry")
	require.ErrorContains(t, err, `bob sees no button labelled "Retry"`, "an ephemeral is for its recipient only")

	d, err := srv.Click(ctx, fakeslack.Alice, fakeslack.Deploys, "retry")
	require.NoError(t, err)
	require.True(t, d.Acked)
	cb := seen.next(t).Data.(slack.InteractionCallback)
	require.True(t, cb.Container.IsEphemeral)
	require.Empty(t, cb.Message.Timestamp, "Slack does not echo ephemeral messages")
	require.NotEmpty(t, cb.ActionCallback.BlockActions[0].BlockID, "Slack fills in missing block ids")

	_, err = srv.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Reject")
	require.NoError(t, err)
	require.Equal(t, newer, seen.next(t).Data.(slack.InteractionCallback).Container.MessageTs)

	_, err = srv.ClickAction(ctx, fakeslack.Bob, fakeslack.Deploys, older, "reject")
	require.NoError(t, err)
	require.Equal(t, older, seen.next(t).Data.(slack.InteractionCallback).Container.MessageTs)
}

// declareModal is the incident declaration form.
func declareModal() slack.ModalViewRequest {
	severity := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Pick one"), "severity",
		slack.NewOptionBlockObject("sev1", plain("SEV1"), nil),
		slack.NewOptionBlockObject("sev2", plain("SEV2"), nil))
	summary := slack.NewInputBlock("summary", plain("Summary"), nil, slack.NewPlainTextInputBlockElement(nil, "summary_text"))
	notes := slack.NewInputBlock("notes", plain("Notes"), nil, slack.NewPlainTextInputBlockElement(nil, "notes_text"))
	notes.Optional = true
	return slack.ModalViewRequest{
		Type: slack.VTModal, Title: plain("Declare an incident"), Submit: plain("Declare"), Close: plain("Cancel"),
		CallbackID: "declare", PrivateMetadata: `{"channel":"C0INCIDENTS"}`,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			summary, slack.NewInputBlock("severity", plain("Severity"), nil, severity), notes,
		}},
	}
}

func TestModalSubmissionWithErrorsStaysOpen(t *testing.T) {
	t.Parallel()
	clk := clock.NewOffset()
	srv := newServer(t, fakeslack.Options{Clock: clk})
	ctx := context.Background()
	changes := srv.Subscribe(ctx)
	bot := startBot(t, srv)

	pending := async(func() (fakeslack.Delivery, error) {
		return srv.SlashCommand(ctx, fakeslack.Carol, fakeslack.Incidents, "/incident", "declare")
	})
	evt := bot.next(t)
	trigger := evt.Data.(slack.SlashCommand).TriggerID
	opened, err := bot.api.OpenView(trigger, declareModal())
	require.NoError(t, err)
	require.NoError(t, bot.client.Ack(*evt.Request))
	await(t, pending)
	shown := awaitChange(t, changes, fakeslack.ModalOpened)
	require.Equal(t, fakeslack.Carol, shown.For)
	require.Equal(t, opened.ID, decode[slack.View](t, shown.View).ID)
	_, err = bot.api.OpenView(trigger, declareModal())
	code, _ := slackError(t, err)
	require.Equal(t, "exchanged_trigger_id", code)

	// Slack's client refuses to submit a required field left empty.
	_, err = srv.SubmitView(ctx, fakeslack.Carol, map[string]string{"severity": "SEV1"})
	require.ErrorContains(t, err, `field "Summary" is required`)
	_, err = srv.SubmitView(ctx, fakeslack.Carol, map[string]string{"summary": "x", "owner": "bob"})
	require.ErrorContains(t, err, `the modal has no field "owner"`)

	submit := func(values map[string]string) (<-chan outcome[fakeslack.Delivery], slack.InteractionCallback, socketmode.Event) {
		pending := async(func() (fakeslack.Delivery, error) { return srv.SubmitView(ctx, fakeslack.Carol, values) })
		evt := bot.next(t)
		return pending, evt.Data.(slack.InteractionCallback), evt
	}
	pending, cb, evt := submit(map[string]string{"Summary": "Checkout errors", "severity": "SEV1"})
	require.True(t, evt.Request.AcceptsResponsePayload)
	require.Equal(t, slack.InteractionTypeViewSubmission, cb.Type)
	require.Equal(t, fakeslack.Carol, cb.User.ID)
	require.Equal(t, opened.ID, cb.View.ID)
	require.Equal(t, "declare", cb.View.CallbackID)
	require.Equal(t, `{"channel":"C0INCIDENTS"}`, cb.View.PrivateMetadata)
	values := cb.View.State.Values
	require.Equal(t, "Checkout errors", values["summary"]["summary_text"].Value)
	require.Equal(t, "sev1", values["severity"]["severity"].SelectedOption.Value)
	require.Empty(t, values["notes"]["notes_text"].Value)
	require.NoError(t, bot.client.Ack(*evt.Request, slack.NewErrorsViewSubmissionResponse(map[string]string{"summary": "Say what users see"})))
	await(t, pending)
	updated := awaitChange(t, changes, fakeslack.ModalUpdated)
	require.Equal(t, map[string]string{"summary": "Say what users see"}, updated.Errors)
	_, open := srv.OpenView(fakeslack.Carol)
	require.True(t, open, "errors keep the modal open")

	// Errors must name input blocks of the view, or Slack cannot show them.
	pending, _, evt = submit(map[string]string{"summary": "Checkout fails for every user"})
	require.NoError(t, bot.client.Ack(*evt.Request, slack.NewErrorsViewSubmissionResponse(map[string]string{"owner": "Pick one"})))
	await(t, pending)
	refusals := srv.Stats().Refusals
	require.Equal(t, "ack:interactive", refusals[len(refusals)-1].Method)

	// The person's earlier answers are still in the form; this time the bot accepts and it closes.
	pending, cb, evt = submit(nil)
	require.Equal(t, "Checkout fails for every user", cb.View.State.Values["summary"]["summary_text"].Value)
	require.Equal(t, "sev1", cb.View.State.Values["severity"]["severity"].SelectedOption.Value)
	require.NoError(t, bot.client.Ack(*evt.Request))
	await(t, pending)
	awaitChange(t, changes, fakeslack.ModalClosed)
	_, open = srv.OpenView(fakeslack.Carol)
	require.False(t, open)

	// A trigger is good for three seconds.
	pending = async(func() (fakeslack.Delivery, error) {
		return srv.SlashCommand(ctx, fakeslack.Carol, fakeslack.Incidents, "/incident", "declare")
	})
	evt = bot.next(t)
	require.NoError(t, bot.client.Ack(*evt.Request))
	await(t, pending)
	clk.Advance(4 * time.Second)
	_, err = bot.api.OpenView(evt.Data.(slack.SlashCommand).TriggerID, declareModal())
	code, _ = slackError(t, err)
	require.Equal(t, "expired_trigger_id", code)
}

func TestResponseURLLimits(t *testing.T) {
	t.Parallel()
	clk := clock.NewOffset()
	srv := newServer(t, fakeslack.Options{Clock: clk})
	bot := startBot(t, srv)
	seen := bot.answer(t, func(socketmode.Event) any { return nil })
	ctx := context.Background()
	post := func(url, body string) int {
		resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}

	_, err := srv.SlashCommand(ctx, fakeslack.Alice, fakeslack.Deploys, "/deploy", "history")
	require.NoError(t, err)
	url := seen.next(t).Data.(slack.SlashCommand).ResponseURL
	require.Equal(t, http.StatusOK, post(url, `{"text":"v1.4.0 deployed Nov 20"}`))
	require.Equal(t, http.StatusOK, post(url, `{"text":"Deploy started","response_type":"in_channel"}`))
	require.Equal(t, http.StatusBadRequest, post(url, `{"blocks":[{"type":"section"}]}`))
	msgs := srv.Messages(fakeslack.Deploys)
	require.Len(t, msgs, 2)
	require.Equal(t, fakeslack.Alice, msgs[0].For, "ephemeral unless in_channel")
	require.Empty(t, msgs[1].For)
	require.Equal(t, http.StatusOK, post(url, `{"text":"four"}`))
	require.Equal(t, http.StatusOK, post(url, `{"text":"five"}`))
	require.Equal(t, http.StatusNotFound, post(url, `{"text":"six"}`), "five uses")

	_, err = srv.SlashCommand(ctx, fakeslack.Alice, fakeslack.Deploys, "/deploy", "history")
	require.NoError(t, err)
	url = seen.next(t).Data.(slack.SlashCommand).ResponseURL
	clk.Advance(31 * time.Minute)
	require.Equal(t, http.StatusNotFound, post(url, `{"text":"too late"}`), "thirty minutes")
}

func TestModalStackPushUpdateAndClose(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakeslack.Options{})
	ctx := context.Background()
	bot := startBot(t, srv)
	seen := bot.answer(t, func(socketmode.Event) any { return nil })
	trigger := func() string {
		_, err := srv.SlashCommand(ctx, fakeslack.Carol, fakeslack.Incidents, "/incident", "declare")
		require.NoError(t, err)
		return seen.next(t).Data.(slack.SlashCommand).TriggerID
	}
	refused := func(err error) string {
		code, _ := slackError(t, err)
		return code
	}

	root, err := bot.api.OpenView(trigger(), declareModal())
	require.NoError(t, err)
	second, err := bot.api.PushView(trigger(), declareModal())
	require.NoError(t, err)
	third, err := bot.api.PushView(trigger(), declareModal())
	require.NoError(t, err)
	require.Equal(t, root.ID, third.RootViewID)
	require.Equal(t, second.ID, third.PreviousViewID)
	_, err = bot.api.PushView(trigger(), declareModal())
	require.Equal(t, "push_limit_reached", refused(err))

	_, err = bot.api.UpdateView(declareModal(), "", "1700000000.stale", third.ID)
	require.Equal(t, "hash_conflict", refused(err))
	updated, err := bot.api.UpdateView(declareModal(), "", third.Hash, third.ID)
	require.NoError(t, err)
	require.NotEqual(t, third.Hash, updated.Hash)

	d, err := srv.CloseView(ctx, fakeslack.Carol)
	require.NoError(t, err)
	require.Equal(t, fakeslack.Delivery{}, d, "no notify_on_close, nothing to tell the bot")
	top, open := srv.OpenView(fakeslack.Carol)
	require.True(t, open)
	require.Equal(t, second.ID, decode[slack.View](t, top).ID)
	_, err = bot.api.UpdateView(declareModal(), "", "", third.ID)
	require.Equal(t, "not_found", refused(err))
}
