package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/store"
)

// RoleChecker reports whether a person holds a role (access.Roles).
type RoleChecker interface {
	Has(ctx context.Context, userID string, role config.Role) (bool, error)
	Holders(role config.Role) string
}

// Domain is a part of the application that serves some commands and clicks: deploys,
// incidents. Serve is only called with the requests the domain Claims.
type Domain interface {
	// Claims reports whether the domain serves the request.
	Claims(req Request) bool
	// Serve carries out a parsed, authorised command and returns what to tell the person.
	// A *chat.Refusal error is shown to them; any other error is logged and reported as a fault.
	Serve(ctx context.Context, who chat.Actor, req Request) (chat.Message, error)
	// ClaimsAction reports whether the domain owns a button's action ID.
	ClaimsAction(actionID string) bool
	// Click handles a button press. The domain authorises it against the state it re-reads.
	Click(ctx context.Context, who chat.Actor, click Click) (chat.Message, error)
	// ClaimsView reports whether the domain owns a modal's callback ID.
	ClaimsView(callbackID string) bool
	// Submit handles a submitted modal; the reply goes to the message's Channel, if any.
	Submit(ctx context.Context, who chat.Actor, sub Submission) (chat.Message, error)
}

// EventHandler is a Domain that follows Events API events (pins in incident channels).
type EventHandler interface {
	HandleEvent(ctx context.Context, ev Event) error
}

// Options configure a Service.
type Options struct {
	Store   store.Store
	Roles   RoleChecker
	Clock   clock.Clock
	Log     zerolog.Logger
	Domains []Domain
	// Unavailable explains, per command, why it is not served here (an integration that is not
	// configured); such commands are refused with that reason instead of failing later.
	Unavailable map[string]string
	// Responder answers through a response_url when the store is unreachable and the outbox
	// cannot take a reply (integrations/slackapi.Responder). Optional.
	Responder Responder
}

// Responder answers a person directly, without the store.
type Responder interface {
	RespondNow(ctx context.Context, responseURL, text string) error
}

// storeDownText is what a person hears when the database cannot be reached.
const storeDownText = "I can't start or change anything right now: my database is unreachable. Nothing was started or changed — please try again in a minute."

// Service is the application behind the bot: it parses, authorises, audits and dispatches
// every delivery, and queues the replies in the outbox.
type Service struct {
	opts Options
	log  zerolog.Logger
}

// NewService returns a Service.
func NewService(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Roles == nil {
		return nil, errors.New("commands: a store and role checker are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	return &Service{opts: opts, log: opts.Log.With().Str("component", "commands").Logger()}, nil
}

// Immediate answers what can be answered without I/O, in the ack itself: help and usage
// errors reach the person at once, even if the store is slow.
func (s *Service) Immediate(in Inbound) Ack {
	inv, ok := in.(Invocation)
	if !ok {
		return Ack{}
	}
	req, err := Parse(inv.Command, inv.Text)
	var usage *UsageError
	switch {
	case errors.As(err, &usage):
		// Not done: the usage error is still audited after the ack.
		return Ack{Payload: ephemeralPayload(usage.Text())}
	case err != nil:
		return Ack{}
	}
	if h, ok := req.(HelpRequest); ok {
		return Ack{Payload: ephemeralPayload(h.Text)}
	}
	return Ack{}
}

// ephemeralPayload is a slash command's immediate reply, shown only to the person.
func ephemeralPayload(text string) map[string]any {
	return map[string]any{"response_type": "ephemeral", "text": text}
}

// ErrDuplicate is what Handle returns for a delivery it has handled before: Slack re-delivered
// the envelope, or another replica got it first. Nothing was done again.
var ErrDuplicate = errors.New("delivery handled already")

// answer is how a delivery ends: what the audit log keeps of it and what the person is told.
type answer struct {
	who     chat.Actor
	action  string // what was asked: "/deploy v1.0.0", "click deploy.approve"
	outcome string // "ok", "refused", "usage", "error", "ignored"
	detail  string // the reason for a refusal, the error
	reply   chat.Message
	channel string // where the reply is shown to who, only to them
	// responseURL is the response_url Slack sent with the command or click, which can show
	// the reply to who in the channel they acted in.
	responseURL string
}

// Handle carries out a delivery after its ack, once however often Slack delivers it.
//
// A delivery that may change something (start a run, press a button) takes its
// de-duplication key before it acts, so that a retry never acts twice; one that only reads
// (status, history, help) records its key with its answer. The answer — the audit entry and
// the reply — is written in one transaction either way.
func (s *Service) Handle(ctx context.Context, in Inbound) error {
	var (
		req      Request
		parseErr error
	)
	inv, isCommand := in.(Invocation)
	if isCommand {
		req, parseErr = Parse(inv.Command, inv.Text)
	}
	// A usage error only reads: the person has the usage message from the ack.
	keyFirst := !isCommand || (parseErr == nil && !readOnly(req))
	if keyFirst {
		first, err := s.opts.Store.FirstDelivery(ctx, in.DeliveryKey(), s.opts.Clock.Now())
		switch {
		case err != nil:
			// Without the record we cannot tell a retry from a first delivery; handling it
			// risks a double effect, dropping it loses a command. Handle it: every step is
			// idempotent, and the store being down is told below.
			s.log.Error().Err(err).Str("delivery", in.DeliveryKey()).Msg("recording the delivery failed; handling it anyway")
		case !first:
			return ErrDuplicate
		}
	}
	var (
		a           *answer
		err         error
		responseURL string
	)
	switch in := in.(type) {
	case Invocation:
		a, responseURL = s.handleCommand(ctx, in, req, parseErr), in.ResponseURL
	case Click:
		a, responseURL = s.handleClick(ctx, in), in.ResponseURL
	case Submission:
		a = s.handleSubmission(ctx, in)
	case Event:
		err = s.handleEvent(ctx, in) // events are not audited and get no reply
	}
	if a != nil {
		a.responseURL = responseURL
		err = s.finish(ctx, in, keyFirst, *a)
	}
	if errors.Is(err, store.ErrUnavailable) && s.opts.Responder != nil && responseURL != "" {
		if rerr := s.opts.Responder.RespondNow(ctx, responseURL, storeDownText); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	return err
}

// readOnly reports whether a command only reads or is answered in the ack (help): it cannot
// act twice, so its key may wait for its answer.
func readOnly(req Request) bool {
	switch req.(type) {
	case HelpRequest, ReleaseStatus, DeployStatus, DeployHistory, IncidentList, IncidentStatus:
		return true
	}
	return false
}

// finish writes a delivery's answer: its audit entry, its reply and, unless it was taken
// before, its key. A read-only delivery another copy of which got there first is a duplicate.
func (s *Service) finish(ctx context.Context, in Inbound, keyTaken bool, a answer) error {
	now := s.opts.Clock.Now()
	d := store.DeliveryRecord{At: now, Audit: store.AuditEntry{
		At: now, Actor: a.who.UserID, Action: a.action, Outcome: a.outcome, Detail: a.detail,
	}}
	if !keyTaken {
		d.Key = in.DeliveryKey()
	}
	if !a.reply.Empty() && a.channel != "" {
		m := store.OutboxMessage{Key: "reply:" + in.DeliveryKey(), Op: store.OpEphemeral, Channel: a.channel, User: a.who.UserID}
		if a.channel == a.who.ChannelID {
			m.ResponseURL = a.responseURL
		}
		reply, err := chat.Compose(m, a.reply, now)
		if err != nil {
			return err
		}
		d.Reply = &reply
	}
	recorded, err := s.opts.Store.FinishDelivery(ctx, d)
	switch {
	case err != nil:
		return fmt.Errorf("recording the answer to %s: %w", a.action, err)
	case !recorded:
		return ErrDuplicate
	}
	return nil
}

// handleCommand carries out a slash command, parsed by Handle into req or parseErr.
func (s *Service) handleCommand(ctx context.Context, in Invocation, req Request, parseErr error) *answer {
	who := chat.Actor{UserID: in.UserID, UserName: in.UserName, ChannelID: in.ChannelID, TriggerID: in.TriggerID}
	if parseErr != nil {
		// The person already has the usage message from the ack.
		return &answer{who: who, action: in.Command + " " + truncate(in.Text, 200), outcome: "usage", detail: parseErr.Error()}
	}
	action := req.String()
	if _, ok := req.(HelpRequest); ok {
		return &answer{who: who, action: action, outcome: "ok"}
	}
	if reason, ok := s.opts.Unavailable[in.Command]; ok {
		return refusal(who, action, reason)
	}
	if role, needed := requiredRole(req); needed {
		ok, err := s.opts.Roles.Has(ctx, who.UserID, role)
		if err != nil {
			return s.fault(who, action, fmt.Errorf("checking the %s role: %w", role, err))
		}
		if !ok {
			return refusal(who, action, fmt.Sprintf("Only %s can %s.", s.opts.Roles.Holders(role), roleVerb(req)))
		}
	}
	for _, d := range s.opts.Domains {
		if !d.Claims(req) {
			continue
		}
		msg, err := d.Serve(ctx, who, req)
		if r, ok := chat.AsRefusal(err); ok {
			return refusal(who, action, r.Reason)
		}
		if err != nil {
			return s.fault(who, action, err)
		}
		return &answer{who: who, action: action, outcome: "ok", reply: msg, channel: who.ChannelID}
	}
	return refusal(who, action, fmt.Sprintf("%s is not set up on this opsbot yet.", in.Command))
}

func (s *Service) handleClick(ctx context.Context, in Click) *answer {
	who := chat.Actor{UserID: in.UserID, UserName: in.UserName, ChannelID: in.ChannelID, TriggerID: in.TriggerID}
	action := "click " + in.ActionID
	for _, d := range s.opts.Domains {
		if !d.ClaimsAction(in.ActionID) {
			continue
		}
		msg, err := d.Click(ctx, who, in)
		if r, ok := chat.AsRefusal(err); ok {
			return refusal(who, action, r.Reason)
		}
		if err != nil {
			s.log.Error().Err(err).Str("action", in.ActionID).Msg("handling a click failed")
			return &answer{who: who, action: action, outcome: "error", detail: err.Error(), reply: faultMessage(), channel: who.ChannelID}
		}
		return &answer{who: who, action: action, outcome: "ok", reply: msg, channel: who.ChannelID}
	}
	return &answer{who: who, action: action, outcome: "ignored", detail: "no domain owns this action"}
}

func (s *Service) handleSubmission(ctx context.Context, in Submission) *answer {
	who := chat.Actor{UserID: in.UserID, UserName: in.UserName, TriggerID: in.TriggerID}
	action := "submit " + in.CallbackID
	for _, d := range s.opts.Domains {
		if !d.ClaimsView(in.CallbackID) {
			continue
		}
		msg, err := d.Submit(ctx, who, in)
		a := &answer{who: who, action: action, outcome: "ok", reply: msg, channel: msg.Channel}
		if r, ok := chat.AsRefusal(err); ok {
			a.outcome, a.detail, a.reply = "refused", r.Reason, chat.Message{Text: r.Reason}
		} else if err != nil {
			s.log.Error().Err(err).Str("view", in.CallbackID).Msg("handling a modal failed")
			a.outcome, a.detail, a.reply = "error", err.Error(), faultMessage()
		}
		return a
	}
	return &answer{who: who, action: action, outcome: "ignored", detail: "no domain owns this modal"}
}

// handleEvent passes an event to the domains that follow events. Events are not audited: they
// are what people did in channels, not requests to the bot.
func (s *Service) handleEvent(ctx context.Context, ev Event) error {
	var errs []error
	for _, d := range s.opts.Domains {
		if h, ok := d.(EventHandler); ok {
			if err := h.HandleEvent(ctx, ev); err != nil {
				errs = append(errs, fmt.Errorf("handling %s event %s: %w", ev.Type, ev.EventID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// refusal tells the person why not.
func refusal(who chat.Actor, action, reason string) *answer {
	return &answer{who: who, action: action, outcome: "refused", detail: reason, reply: chat.Text("%s", reason), channel: who.ChannelID}
}

// fault logs what failed and tells the person that nothing was changed.
func (s *Service) fault(who chat.Actor, action string, cause error) *answer {
	s.log.Error().Err(cause).Str("action", action).Msg("a command failed")
	return &answer{who: who, action: action, outcome: "error", detail: cause.Error(), reply: faultMessage(), channel: who.ChannelID}
}

func faultMessage() chat.Message {
	return chat.Text("Something went wrong on my side and nothing was changed; it is in my logs. Please try again in a minute.")
}

// requiredRole is the role a command needs before any domain sees it. Read-only commands
// (status, history, list) are open to everyone; clicks are authorised by their domain against
// the run they act on.
func requiredRole(req Request) (config.Role, bool) {
	switch req.(type) {
	case ReleaseCreate, DeployStart, DeployCancel:
		return config.RoleDeployer, true
	}
	return "", false
}

func roleVerb(req Request) string {
	switch req.(type) {
	case ReleaseCreate:
		return "start a release"
	case DeployCancel:
		return "cancel a deploy"
	}
	return "deploy"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.ToValidUTF8(s[:n], "")
	return cut + "…"
}
