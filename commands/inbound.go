package commands

import (
	"encoding/json"
	"time"
)

// Inbound is one thing a person did in Slack, as the bot received it: a slash command, a click, a
// modal submission or an event. The bot translates Socket Mode payloads into these types so that
// nothing below it depends on the transport.
type Inbound interface {
	// DeliveryKey identifies the delivery for de-duplication: Slack re-delivers an envelope
	// that was not acked in time, and a retry must be handled once, on whichever replica.
	DeliveryKey() string
	// Actor is the Slack user ID of the person who acted.
	Actor() string
}

// Invocation is a slash command.
type Invocation struct {
	EnvelopeID  string
	TeamID      string
	UserID      string
	UserName    string
	ChannelID   string
	ChannelName string
	Command     string // "/deploy"
	Text        string // as Slack sent it (escaped: mentions are <@U…|name>)
	TriggerID   string // opens a modal within 3 s of the command
	ResponseURL string
	ReceivedAt  time.Time
}

// DeliveryKey implements Inbound.
func (in Invocation) DeliveryKey() string { return "envelope:" + in.EnvelopeID }

// Actor implements Inbound.
func (in Invocation) Actor() string { return in.UserID }

// Click is a button press (block_actions).
type Click struct {
	EnvelopeID  string
	UserID      string
	UserName    string
	ChannelID   string
	MessageTS   string // the message holding the button ("" inside a modal)
	Ephemeral   bool   // the button was in an ephemeral message
	ViewID      string // the modal holding the button, if any
	ActionID    string
	BlockID     string
	Value       string // never trusted: it only says what the person saw; state is re-read
	TriggerID   string
	ResponseURL string
	ReceivedAt  time.Time
}

// DeliveryKey implements Inbound.
func (in Click) DeliveryKey() string { return "envelope:" + in.EnvelopeID }

// Actor implements Inbound.
func (in Click) Actor() string { return in.UserID }

// Submission is a modal submitted with its submit button (view_submission).
type Submission struct {
	EnvelopeID      string
	UserID          string
	UserName        string
	ViewID          string
	CallbackID      string
	PrivateMetadata string
	// Values maps each input's block ID to what was entered: a text value, a selected
	// option's value, or several selected values joined by commas.
	Values     map[string]string
	TriggerID  string
	ReceivedAt time.Time
}

// DeliveryKey implements Inbound.
func (in Submission) DeliveryKey() string { return "envelope:" + in.EnvelopeID }

// Actor implements Inbound.
func (in Submission) Actor() string { return in.UserID }

// Event is an Events API event the bot subscribes to (pin_added, reaction_added).
type Event struct {
	EventID    string
	Type       string
	UserID     string
	ChannelID  string
	ItemTS     string // the message pinned or reacted to
	Reaction   string // reaction_added only, e.g. "pushpin"
	EventTS    string
	Raw        json.RawMessage
	ReceivedAt time.Time
}

// DeliveryKey implements Inbound. Events are keyed by event_id, which Slack keeps across
// retries of the same event.
func (in Event) DeliveryKey() string { return "event:" + in.EventID }

// Actor implements Inbound.
func (in Event) Actor() string { return in.UserID }

// Ack is what goes back to Slack in the acknowledgement, before any slow work.
type Ack struct {
	// Payload is the ack's response payload: an immediate ephemeral reply to a slash command,
	// or a response_action for a modal ("errors" keeps it open with field errors). nil acks
	// with no payload.
	Payload any
	// Done means the ack said everything; there is no further work for this delivery.
	Done bool
}
