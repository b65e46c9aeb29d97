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

// Handle carries out a delivery after its ack.
func (s *Service) Handle(ctx context.Context, in Inbound) error {
	var err error
	responseURL := ""
	switch in := in.(type) {
	case Invocation:
		err, responseURL = s.handleCommand(ctx, in), in.ResponseURL
	case Click:
		err, responseURL = s.handleClick(ctx, in), in.ResponseURL
	case Submission:
		err = s.handleSubmission(ctx, in)
	case Event:
		err = s.handleEvent(ctx, in)
	}
	if errors.Is(err, store.ErrUnavailable) && s.opts.Responder != nil && responseURL != "" {
		if rerr := s.opts.Responder.RespondNow(ctx, responseURL, storeDownText); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	return err
}

func (s *Service) handleCommand(ctx context.Context, in Invocation) error {
	who := chat.Actor{UserID: in.UserID, UserName: in.UserName, ChannelID: in.ChannelID, TriggerID: in.TriggerID}
	req, err := Parse(in.Command, in.Text)
	if err != nil {
		// The person already has the usage message from the ack.
		return s.audit(ctx, who, in.Command+" "+truncate(in.Text, 200), "usage", err.Error())
	}
	action := req.String()
	if _, ok := req.(HelpRequest); ok {
		return s.audit(ctx, who, action, "ok", "")
	}
	if reason, ok := s.opts.Unavailable[in.Command]; ok {
		return s.refuse(ctx, in, who, action, reason)
	}
	if role, needed := requiredRole(req); needed {
		ok, err := s.opts.Roles.Has(ctx, who.UserID, role)
		if err != nil {
			return s.fault(ctx, in, who, action, fmt.Errorf("checking the %s role: %w", role, err))
		}
		if !ok {
			return s.refuse(ctx, in, who, action, fmt.Sprintf("Only %s can %s.", s.opts.Roles.Holders(role), roleVerb(req)))
		}
	}
	for _, d := range s.opts.Domains {
		if !d.Claims(req) {
			continue
		}
		msg, err := d.Serve(ctx, who, req)
		if r, ok := chat.AsRefusal(err); ok {
			return s.refuse(ctx, in, who, action, r.Reason)
		}
		if err != nil {
			return s.fault(ctx, in, who, action, err)
		}
		if err := s.reply(ctx, in.DeliveryKey(), in.ChannelID, in.UserID, msg); err != nil {
			return err
		}
		return s.audit(ctx, who, action, "ok", "")
	}
	return s.refuse(ctx, in, who, action, fmt.Sprintf("%s is not set up on this opsbot yet.", in.Command))
}

func (s *Service) handleClick(ctx context.Context, in Click) error {
	who := chat.Actor{UserID: in.UserID, UserName: in.UserName, ChannelID: in.ChannelID, TriggerID: in.TriggerID}
	action := "click " + in.ActionID
	for _, d := range s.opts.Domains {
		if !d.ClaimsAction(in.ActionID) {
			continue
		}
		msg, err := d.Click(ctx, who, in)
		if r, ok := chat.AsRefusal(err); ok {
			if err := s.reply(ctx, in.DeliveryKey(), in.ChannelID, in.UserID, chat.Text("%s", r.Reason)); err != nil {
				return err
			}
			return s.audit(ctx, who, action, "refused", r.Reason)
		}
		if err != nil {
			s.log.Error().Err(err).Str("action", in.ActionID).Msg("handling a click failed")
			if err := s.reply(ctx, in.DeliveryKey(), in.ChannelID, in.UserID, faultMessage()); err != nil {
				return err
			}
			return s.audit(ctx, who, action, "error", err.Error())
		}
		if err := s.reply(ctx, in.DeliveryKey(), in.ChannelID, in.UserID, msg); err != nil {
			return err
		}
		return s.audit(ctx, who, action, "ok", "")
	}
	return s.audit(ctx, who, action, "ignored", "no domain owns this action")
}

func (s *Service) handleSubmission(ctx context.Context, in Submission) error {
	who := chat.Actor{UserID: in.UserID, UserName: in.UserName, TriggerID: in.TriggerID}
	action := "submit " + in.CallbackID
	for _, d := range s.opts.Domains {
		if !d.ClaimsView(in.CallbackID) {
			continue
		}
		msg, err := d.Submit(ctx, who, in)
		outcome, detail := "ok", ""
		if r, ok := chat.AsRefusal(err); ok {
			outcome, detail, msg = "refused", r.Reason, chat.Message{Text: r.Reason, Channel: msg.Channel}
		} else if err != nil {
			s.log.Error().Err(err).Str("view", in.CallbackID).Msg("handling a modal failed")
			outcome, detail = "error", err.Error()
			msg = chat.Message{Text: faultMessage().Text, Channel: msg.Channel}
		}
		if msg.Channel != "" {
			if err := s.reply(ctx, in.DeliveryKey(), msg.Channel, in.UserID, msg); err != nil {
				return err
			}
		}
		return s.audit(ctx, who, action, outcome, detail)
	}
	return s.audit(ctx, who, action, "ignored", "no domain owns this modal")
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

func (s *Service) refuse(ctx context.Context, in Inbound, who chat.Actor, action, reason string) error {
	if err := s.reply(ctx, in.DeliveryKey(), who.ChannelID, who.UserID, chat.Text("%s", reason)); err != nil {
		return err
	}
	return s.audit(ctx, who, action, "refused", reason)
}

func (s *Service) fault(ctx context.Context, in Inbound, who chat.Actor, action string, cause error) error {
	s.log.Error().Err(cause).Str("action", action).Msg("a command failed")
	if err := s.reply(ctx, in.DeliveryKey(), who.ChannelID, who.UserID, faultMessage()); err != nil {
		return err
	}
	return s.audit(ctx, who, action, "error", cause.Error())
}

func faultMessage() chat.Message {
	return chat.Text("Something went wrong on my side and nothing was changed; it is in my logs. Please try again in a minute.")
}

// reply queues an ephemeral answer to the person; the key makes a retried handler reply once.
func (s *Service) reply(ctx context.Context, deliveryKey, channel, user string, msg chat.Message) error {
	if msg.Empty() {
		return nil
	}
	return chat.Queue(ctx, s.opts.Store, store.OutboxMessage{
		Key: "reply:" + deliveryKey, Op: store.OpEphemeral, Channel: channel, User: user,
	}, msg, s.opts.Clock.Now())
}

func (s *Service) audit(ctx context.Context, who chat.Actor, action, outcome, detail string) error {
	_, err := s.opts.Store.AppendAudit(ctx, store.AuditEntry{
		At: s.opts.Clock.Now(), Actor: who.UserID, Action: action, Outcome: outcome, Detail: detail,
	})
	if err != nil {
		return fmt.Errorf("writing the audit log: %w", err)
	}
	return nil
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
