package bot

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/opsbot-dev/opsbot/commands"
)

// translate turns a Socket Mode envelope into the application's inbound type. It returns nil,
// nil for envelope kinds the bot acks but does not handle (e.g. view_closed, unknown events).
func translate(evt socketmode.Event, now time.Time) (commands.Inbound, error) {
	envelopeID := ""
	if evt.Request != nil {
		envelopeID = evt.Request.EnvelopeID
	}
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			return nil, fmt.Errorf("slash command envelope holds %T", evt.Data)
		}
		return commands.Invocation{
			EnvelopeID: envelopeID, TeamID: cmd.TeamID, UserID: cmd.UserID, UserName: cmd.UserName,
			ChannelID: cmd.ChannelID, ChannelName: cmd.ChannelName, Command: cmd.Command, Text: cmd.Text,
			TriggerID: cmd.TriggerID, ResponseURL: cmd.ResponseURL, ReceivedAt: now,
		}, nil
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok {
			return nil, fmt.Errorf("interactive envelope holds %T", evt.Data)
		}
		return translateInteraction(envelopeID, cb, now)
	case socketmode.EventTypeEventsAPI:
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			return nil, fmt.Errorf("events envelope holds %T", evt.Data)
		}
		return translateEvent(ev, now)
	}
	return nil, nil
}

func translateInteraction(envelopeID string, cb slack.InteractionCallback, now time.Time) (commands.Inbound, error) {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		if len(cb.ActionCallback.BlockActions) == 0 {
			return nil, fmt.Errorf("block_actions without actions")
		}
		// Buttons send one action per click; the first is the one pressed.
		a := cb.ActionCallback.BlockActions[0]
		channel := cb.Container.ChannelID
		if channel == "" {
			channel = cb.Channel.ID
		}
		return commands.Click{
			EnvelopeID: envelopeID, UserID: cb.User.ID, UserName: cb.User.Name, ChannelID: channel,
			MessageTS: cb.Container.MessageTs, Ephemeral: cb.Container.IsEphemeral, ViewID: cb.Container.ViewID,
			ActionID: a.ActionID, BlockID: a.BlockID, Value: a.Value,
			TriggerID: cb.TriggerID, ResponseURL: cb.ResponseURL, ReceivedAt: now,
		}, nil
	case slack.InteractionTypeViewSubmission:
		return commands.Submission{
			EnvelopeID: envelopeID, UserID: cb.User.ID, UserName: cb.User.Name, ViewID: cb.View.ID,
			CallbackID: cb.View.CallbackID, PrivateMetadata: cb.View.PrivateMetadata,
			Values: viewValues(cb.View.State), TriggerID: cb.TriggerID, ReceivedAt: now,
		}, nil
	}
	return nil, nil
}

// viewValues flattens a modal's state to block ID → value. opsbot gives every input block one
// element, so the block ID names the field; a block that sent no element is an empty field, so
// that the form sees every field it asked for.
func viewValues(state *slack.ViewState) map[string]string {
	values := map[string]string{}
	if state == nil {
		return values
	}
	for blockID, actions := range state.Values {
		values[blockID] = ""
		for _, a := range actions {
			values[blockID] = actionValue(a)
		}
	}
	return values
}

func actionValue(a slack.BlockAction) string {
	switch {
	case a.SelectedOption.Value != "":
		return a.SelectedOption.Value
	case len(a.SelectedOptions) > 0:
		vs := make([]string, len(a.SelectedOptions))
		for i, o := range a.SelectedOptions {
			vs[i] = o.Value
		}
		sort.Strings(vs)
		return strings.Join(vs, ",")
	case a.SelectedUser != "":
		return a.SelectedUser
	}
	return a.Value
}

func translateEvent(ev slackevents.EventsAPIEvent, now time.Time) (commands.Inbound, error) {
	outer, ok := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok {
		return nil, nil // url_verification and app_rate_limited carry no user event
	}
	in := commands.Event{EventID: outer.EventID, Type: ev.InnerEvent.Type, ReceivedAt: now}
	if outer.InnerEvent != nil {
		in.Raw = json.RawMessage(*outer.InnerEvent)
	}
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.PinAddedEvent:
		in.UserID, in.ChannelID, in.EventTS = e.User, e.Channel, e.EventTimestamp
		if in.ChannelID == "" {
			in.ChannelID = e.Item.Channel
		}
		if e.Item.Message != nil {
			in.ItemTS = e.Item.Message.Timestamp
		}
	case *slackevents.ReactionAddedEvent:
		in.UserID, in.ChannelID, in.ItemTS, in.Reaction, in.EventTS = e.User, e.Item.Channel, e.Item.Timestamp, e.Reaction, e.EventTimestamp
	default:
		return nil, nil
	}
	return in, nil
}
