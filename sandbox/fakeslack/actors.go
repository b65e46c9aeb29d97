package fakeslack

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Acting as the workspace's people. Each action builds the payload Slack would send, delivers it
// over Socket Mode and returns once the bot acknowledged it or Slack gave up; what the person then
// sees (a reply, a modal, an error from Slack) is reported as Changes.

// SlashCommand runs command ("/deploy") with text as userID typed it in channelID (an ID or a
// name). Mentions in text are escaped as for a command with should_escape. An immediate reply in
// the ack payload is shown, in the channel when its response_type is in_channel.
func (s *Server) SlashCommand(ctx context.Context, userID, channelID, command, text string) (Delivery, error) {
	if !strings.HasPrefix(command, "/") {
		return Delivery{}, fmt.Errorf("slash command %q must start with /", command)
	}
	var u *user
	var ch *channel
	var payload obj
	err := s.locked(func() (err error) {
		if u, ch, err = s.actor(userID, channelID); err != nil {
			return err
		}
		payload = obj{
			"token": verificationToken, "team_id": TeamID, "team_domain": TeamDomain,
			"channel_id": ch.id, "channel_name": ch.name, "user_id": u.id, "user_name": u.name,
			"command": command, "text": s.encodeMentions(text, commandStyle), "api_app_id": AppID,
			"is_enterprise_install": "false", // a string, as Slack sends it in Socket Mode
			"response_url":          s.newHook("commands", u.id, ch, nil), "trigger_id": s.newTrigger(u.id),
		}
		return nil
	})
	if err != nil {
		return Delivery{}, err
	}
	d, err := s.deliver(ctx, envelopeSlashCommand, payload, true)
	if err != nil {
		return d, err
	}
	return d, s.locked(func() error {
		s.reportUnanswered(u, ch, command, d)
		if d.Acked {
			s.showCommandReply(u, ch, d.Payload)
		}
		return nil
	})
}

// showCommandReply shows a slash command's immediate reply. Callers hold s.mu.
func (s *Server) showCommandReply(u *user, ch *channel, payload json.RawMessage) {
	var fields map[string]any
	if len(payload) == 0 || string(payload) == "null" {
		return
	}
	if err := decodeJSON(payload, &fields); err != nil {
		s.refuse("ack:"+envelopeSlashCommand, fail("invalid_payload", err.Error()))
		return
	}
	c := &call{method: "ack", params: fields}
	if !c.has("text") && !c.has("blocks") && !c.has("attachments") {
		return
	}
	body, err := readNewContent(c)
	if err != nil {
		s.refuse("ack:"+envelopeSlashCommand, err)
		return
	}
	reply := &message{user: BotUserID}
	reply.setContent(body)
	if c.str("response_type") == "in_channel" {
		s.post(ch, reply)
		return
	}
	reply.forUser = u.id
	s.postEphemeral(ch, reply)
}

// reportUnanswered shows the person Slack's error when the bot never got or never answered their
// action. Callers hold s.mu.
func (s *Server) reportUnanswered(u *user, ch *channel, what string, d Delivery) {
	kind, code := DispatchFailed, "dispatch_failed"
	switch {
	case d.Acked:
		return
	case !d.DispatchFailed:
		kind, code = ActionTimedOut, "operation_timeout"
	}
	m := Message{User: "USLACKBOT", For: u.id, Text: fmt.Sprintf("%s failed with the error %q", what, code)}
	if ch != nil {
		m.ChannelID, m.ChannelName = ch.id, ch.name
	}
	s.emit(Change{Kind: kind, Message: m})
}

// buttonRef is a button in a message (or ephemeral) a person can see.
type buttonRef struct {
	msg     *message
	blockID string
	button  map[string]any
}

// pendingConfirm is Slack's confirmation dialog, open for one person.
type pendingConfirm struct {
	channel *channel
	target  buttonRef
}

// Click presses the newest button userID can see in channelID whose text is label, ignoring case:
// in channel messages, thread replies and the ephemerals shown to them. While a confirmation
// dialog is open, label must be its confirm or deny button instead. A button with a confirm
// object only opens the dialog (Delivery.AwaitingConfirm); the action is sent once its confirm
// button is pressed.
func (s *Server) Click(ctx context.Context, userID, channelID, label string) (Delivery, error) {
	return s.press(ctx, userID, channelID, "button "+label, func(u *user, ch *channel) (obj, bool, error) {
		if pc := s.confirms[u.id]; pc != nil {
			return s.answerDialog(u, pc, label)
		}
		ref, err := s.findButton(u, ch, fmt.Sprintf("labelled %q", label), func(_ *message, b map[string]any) bool {
			return strings.EqualFold(textOf(b["text"]), label)
		})
		if err != nil {
			return nil, false, err
		}
		payload, awaiting := s.activate(u, ch, ref)
		return payload, awaiting, nil
	})
}

// ClickAction presses the button with actionID in the message (or ephemeral) at messageTS.
func (s *Server) ClickAction(ctx context.Context, userID, channelID, messageTS, actionID string) (Delivery, error) {
	return s.press(ctx, userID, channelID, "button "+actionID, func(u *user, ch *channel) (obj, bool, error) {
		if s.confirms[u.id] != nil {
			return nil, false, fmt.Errorf("%s has a confirmation dialog open; Click its confirm or deny button", u.name)
		}
		ref, err := s.findButton(u, ch, fmt.Sprintf("%s in message %s", actionID, messageTS), func(m *message, b map[string]any) bool {
			return m.ts == messageTS && b["action_id"] == actionID
		})
		if err != nil {
			return nil, false, err
		}
		payload, awaiting := s.activate(u, ch, ref)
		return payload, awaiting, nil
	})
}

// press resolves a click under the lock, then sends the block_actions payload, if any.
func (s *Server) press(ctx context.Context, userID, channelID, what string, resolve func(*user, *channel) (obj, bool, error)) (Delivery, error) {
	var u *user
	var ch *channel
	var payload obj
	var awaiting bool
	err := s.locked(func() (err error) {
		if u, ch, err = s.actor(userID, channelID); err != nil {
			return err
		}
		payload, awaiting, err = resolve(u, ch)
		return err
	})
	if err != nil || payload == nil {
		return Delivery{AwaitingConfirm: awaiting}, err
	}
	d, err := s.deliver(ctx, envelopeInteractive, payload, false)
	if err != nil {
		return d, err
	}
	return d, s.locked(func() error {
		s.reportUnanswered(u, ch, what, d)
		return nil
	})
}

// answerDialog presses the open confirmation dialog's button labelled label. Callers hold s.mu.
func (s *Server) answerDialog(u *user, pc *pendingConfirm, label string) (obj, bool, error) {
	dialog, _ := pc.target.button["confirm"].(map[string]any)
	confirmed := strings.EqualFold(textOf(dialog["confirm"]), label)
	if !confirmed && !strings.EqualFold(textOf(dialog["deny"]), label) {
		return nil, true, fmt.Errorf("%s has a confirmation dialog open: press %q or %q",
			u.name, textOf(dialog["confirm"]), textOf(dialog["deny"]))
	}
	delete(s.confirms, u.id)
	snap := s.snapshot(pc.channel, pc.target.msg)
	snap.For = u.id
	s.emit(Change{Kind: ConfirmClosed, Message: snap})
	if !confirmed {
		return nil, false, nil
	}
	return s.blockActions(u, pc.channel, pc.target), false, nil
}

// activate presses a button: it opens the confirmation dialog when the button has one, and
// otherwise returns the block_actions payload. Callers hold s.mu.
func (s *Server) activate(u *user, ch *channel, ref buttonRef) (payload obj, awaitingConfirm bool) {
	dialog, ok := ref.button["confirm"]
	if !ok {
		return s.blockActions(u, ch, ref), false
	}
	s.confirms[u.id] = &pendingConfirm{channel: ch, target: ref}
	raw, _ := json.Marshal(dialog)
	snap := s.snapshot(ch, ref.msg)
	snap.For = u.id
	s.emit(Change{Kind: ConfirmOpened, Message: snap, Confirm: raw})
	return nil, true
}

// findButton returns the first matching button in the newest message u can see in ch.
// Callers hold s.mu.
func (s *Server) findButton(u *user, ch *channel, describe string, match func(*message, map[string]any) bool) (buttonRef, error) {
	var visible []*message
	for _, m := range ch.messages {
		if !m.deleted {
			visible = append(visible, m)
		}
	}
	for _, m := range ch.ephemerals {
		if m.forUser == u.id {
			visible = append(visible, m)
		}
	}
	slices.SortFunc(visible, func(a, b *message) int { return cmp.Compare(b.seq, a.seq) })
	var labels []string
	for _, m := range visible {
		for _, b := range m.blocks {
			block, _ := b.(map[string]any)
			for _, e := range blockElements(block) {
				if e["type"] != "button" {
					continue
				}
				if match(m, e) {
					blockID, _ := block["block_id"].(string)
					return buttonRef{msg: m, blockID: blockID, button: e}, nil
				}
				labels = append(labels, fmt.Sprintf("%q", textOf(e["text"])))
			}
		}
	}
	return buttonRef{}, fmt.Errorf("%s sees no button %s in #%s (newest first: %s)",
		u.name, describe, ch.name, strings.Join(labels[:min(len(labels), 20)], ", "))
}

// blockActions is the block_actions payload for pressing ref. Callers hold s.mu.
func (s *Server) blockActions(u *user, ch *channel, ref buttonRef) obj {
	m := ref.msg
	container := obj{"type": "message", "message_ts": m.ts, "channel_id": ch.id, "is_ephemeral": m.forUser != ""}
	if m.threadTS != "" {
		container["thread_ts"] = m.threadTS
	}
	action := obj{
		"type": "button", "action_id": ref.button["action_id"], "block_id": ref.blockID,
		"text": ref.button["text"], "action_ts": s.eventTS(),
	}
	for _, optional := range []string{"value", "style"} {
		if v, ok := ref.button[optional]; ok {
			action[optional] = v
		}
	}
	payload := obj{
		"type": "block_actions", "user": userRef(u), "api_app_id": AppID, "token": verificationToken,
		"container": container, "trigger_id": s.newTrigger(u.id), "team": teamRef(),
		"enterprise": nil, "is_enterprise_install": false, "channel": obj{"id": ch.id, "name": ch.name},
		"state": obj{"values": obj{}}, "response_url": s.newHook("actions", u.id, ch, m),
		"actions": []obj{action},
	}
	if m.forUser == "" { // Slack does not echo an ephemeral message back
		payload["message"] = s.messageJSON(ch, m, false)
	}
	return payload
}

// SubmitView submits the modal userID has open on top, with values for its input fields keyed by
// block_id, action_id or label (ignoring case). Fields not named keep their initial value. Like
// Slack's client it refuses, without sending anything, a submission that leaves a required field
// empty or names no field of the modal. The bot's response_action is then applied: "errors"
// keeps the modal open showing them, "update" and "push" change it, "clear" closes every modal,
// and no response_action closes this one.
func (s *Server) SubmitView(ctx context.Context, userID string, values map[string]string) (Delivery, error) {
	var u *user
	var v *view
	var payload obj
	err := s.locked(func() (err error) {
		if u, v, err = s.topModal(userID); err != nil {
			return err
		}
		state, err := s.fillState(v, values)
		if err != nil {
			return err
		}
		v.values = state
		payload = obj{
			"type": "view_submission", "team": teamRef(), "user": userRef(u), "api_app_id": AppID,
			"token": verificationToken, "trigger_id": s.newTrigger(u.id), "view": v.json(),
			"response_urls": []obj{}, "is_enterprise_install": false, "enterprise": nil,
		}
		return nil
	})
	if err != nil {
		return Delivery{}, err
	}
	d, err := s.deliver(ctx, envelopeInteractive, payload, true)
	if err != nil {
		return d, err
	}
	return d, s.locked(func() error {
		s.reportUnanswered(u, nil, "submitting "+textOf(v.spec["title"]), d)
		if d.Acked {
			s.applyViewResponse(v, d.Payload)
		}
		return nil
	})
}

// applyViewResponse carries out the bot's answer to a view submission. Callers hold s.mu.
func (s *Server) applyViewResponse(v *view, payload json.RawMessage) {
	if s.views[v.id] != v {
		return // the bot already closed it through the Web API
	}
	fields := map[string]any{}
	if len(payload) > 0 && string(payload) != "null" {
		if err := decodeJSON(payload, &fields); err != nil {
			s.refuse("ack:"+envelopeInteractive, fail("invalid_payload", err.Error()))
			return
		}
	}
	c := &call{method: "ack", params: fields}
	switch action := c.str("response_action"); action {
	case "":
		s.closeView(v)
	case "clear":
		s.closeModals(v.user)
	case "errors":
		errs, err := fieldErrors(v, fields["errors"])
		if err != nil {
			s.refuse("ack:"+envelopeInteractive, err)
			return
		}
		v.errors = errs
		s.emitView(ModalUpdated, v)
	case "update", "push":
		spec, err := readView(c)
		if err == nil && action == "push" && len(s.modals[v.user]) >= maxViewStack {
			err = fail("push_limit_reached")
		}
		if err != nil {
			s.refuse("ack:"+envelopeInteractive, err)
			return
		}
		if action == "update" {
			s.replaceView(v, spec)
		} else {
			s.pushView(v.user, spec)
		}
	default:
		s.refuse("ack:"+envelopeInteractive, fail("invalid_arguments", "unknown response_action "+action))
	}
}

// fieldErrors reads response_action "errors": every key must be an input block of v.
func fieldErrors(v *view, raw any) (map[string]string, error) {
	given, ok := raw.(map[string]any)
	if !ok || len(given) == 0 {
		return nil, fail("invalid_arguments", "[ERROR] errors must be an object naming input blocks [json-pointer:/errors]")
	}
	inputs := map[string]bool{}
	for _, b := range v.spec["blocks"].([]any) {
		if block, _ := b.(map[string]any); block["type"] == "input" {
			id, _ := block["block_id"].(string)
			inputs[id] = true
		}
	}
	errs := map[string]string{}
	for blockID, msg := range given {
		text, isText := msg.(string)
		if !inputs[blockID] || !isText {
			return nil, fail("invalid_arguments", fmt.Sprintf("[ERROR] %q is not an input block of the view [json-pointer:/errors/%s]", blockID, blockID))
		}
		errs[blockID] = text
	}
	return errs, nil
}

// CloseView closes the modal userID has open on top, as its close button does. When the view
// asked for notify_on_close, the bot gets view_closed.
func (s *Server) CloseView(ctx context.Context, userID string) (Delivery, error) {
	var payload obj
	err := s.locked(func() error {
		u, v, err := s.topModal(userID)
		if err != nil {
			return err
		}
		if notify, _ := v.spec["notify_on_close"].(bool); notify {
			payload = obj{
				"type": "view_closed", "team": teamRef(), "user": userRef(u), "api_app_id": AppID,
				"token": verificationToken, "view": v.json(), "is_cleared": false, "is_enterprise_install": false,
			}
		}
		s.closeView(v)
		return nil
	})
	if err != nil || payload == nil {
		return Delivery{}, err
	}
	return s.deliver(ctx, envelopeInteractive, payload, false)
}

// closeView closes v and any modal pushed above it. Callers hold s.mu.
func (s *Server) closeView(v *view) {
	for s.views[v.id] == v {
		s.closeTopModal(v.user)
	}
}

func (s *Server) topModal(userID string) (*user, *view, error) {
	u, err := s.person(userID)
	if err != nil {
		return nil, nil, err
	}
	stack := s.modals[u.id]
	if len(stack) == 0 {
		return nil, nil, fmt.Errorf("%s has no modal open", u.name)
	}
	return u, stack[len(stack)-1], nil
}

// PostAsUser posts text to channelID (in the thread of threadTS, if set) as userID typed it, and
// sends the bot the event: app_mention when the text mentions the bot, message otherwise, and
// neither when the bot is not in the channel. It returns the message's ts.
func (s *Server) PostAsUser(ctx context.Context, userID, channelID, text, threadTS string) (string, Delivery, error) {
	if strings.TrimSpace(text) == "" {
		return "", Delivery{}, fmt.Errorf("posting as %s: no text", userID)
	}
	var ts string
	var payload obj
	err := s.locked(func() error {
		u, ch, err := s.actor(userID, channelID)
		if err != nil {
			return err
		}
		if threadTS != "" {
			if _, err := threadParent(ch, threadTS); err != nil {
				return fmt.Errorf("replying in thread %s: %w", threadTS, err)
			}
		}
		m := &message{user: u.id, text: s.encodeMentions(text, messageStyle), threadTS: threadTS}
		s.post(ch, m)
		ts = m.ts
		if !ch.isMember(BotUserID) {
			return nil
		}
		event := obj{
			"type": "message", "channel": ch.id, "user": u.id, "text": m.text, "ts": m.ts,
			"event_ts": m.ts, "channel_type": "channel", "team": TeamID,
		}
		if strings.Contains(m.text, "<@"+BotUserID+">") {
			event["type"] = "app_mention"
			delete(event, "channel_type")
		}
		if threadTS != "" {
			event["thread_ts"] = threadTS
		}
		payload = s.eventCallback(event)
		return nil
	})
	if err != nil || payload == nil {
		return ts, Delivery{}, err
	}
	d, err := s.deliver(ctx, envelopeEvent, payload, false)
	return ts, d, err
}

// Pin pins the message at ts in channelID as userID, and sends the bot pin_added.
func (s *Server) Pin(ctx context.Context, userID, channelID, ts string) (Delivery, error) {
	return s.userEvent(ctx, userID, channelID, func(u *user, ch *channel) (obj, error) {
		if err := s.pin(ch, ts, u.id); err != nil {
			return nil, fmt.Errorf("pinning %s: %w", ts, err)
		}
		m := ch.byTS[ts]
		return obj{
			"type": "pin_added", "user": u.id, "channel_id": ch.id, "event_ts": s.eventTS(),
			"item": obj{
				"type": "message", "channel": ch.id, "message": s.messageJSON(ch, m, false),
				"created": s.now().Unix(), "created_by": u.id,
			},
		}, nil
	})
}

// React adds userID's reaction name (without colons) to the message at ts, and sends the bot
// reaction_added.
func (s *Server) React(ctx context.Context, userID, channelID, ts, name string) (Delivery, error) {
	return s.userEvent(ctx, userID, channelID, func(u *user, ch *channel) (obj, error) {
		if err := s.react(ch, ts, u.id, name); err != nil {
			return nil, fmt.Errorf("reacting to %s: %w", ts, err)
		}
		return obj{
			"type": "reaction_added", "user": u.id, "reaction": name, "item_user": ch.byTS[ts].user,
			"item": obj{"type": "message", "channel": ch.id, "ts": ts}, "event_ts": s.eventTS(),
		}, nil
	})
}

// userEvent performs a person's action under the lock and sends the bot its event, when the bot
// is in the channel.
func (s *Server) userEvent(ctx context.Context, userID, channelID string, act func(*user, *channel) (obj, error)) (Delivery, error) {
	var payload obj
	err := s.locked(func() error {
		u, ch, err := s.actor(userID, channelID)
		if err != nil {
			return err
		}
		event, err := act(u, ch)
		if err == nil && ch.isMember(BotUserID) {
			payload = s.eventCallback(event)
		}
		return err
	})
	if err != nil || payload == nil {
		return Delivery{}, err
	}
	return s.deliver(ctx, envelopeEvent, payload, false)
}

// eventCallback wraps an event as the Events API delivers it. Callers hold s.mu.
func (s *Server) eventCallback(event obj) obj {
	return obj{
		"token": verificationToken, "team_id": TeamID, "api_app_id": AppID, "event": event,
		"type": "event_callback", "event_id": s.nextSerial("Ev"), "event_time": s.now().Unix(),
		"authorizations": []obj{{
			"enterprise_id": nil, "team_id": TeamID, "user_id": BotUserID, "is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false, "event_context": "4-" + randomID(40),
	}
}

// CreateChannel creates a public channel as userID, who becomes its only member; the bot is not
// in it. It returns the channel's ID.
func (s *Server) CreateChannel(userID, name string) (string, error) {
	var id string
	err := s.locked(func() error {
		u, err := s.person(userID)
		if err != nil {
			return err
		}
		ch, err := s.createChannel(name, false, u.id)
		if err != nil {
			return fmt.Errorf("creating #%s: %w", name, err)
		}
		id = ch.id
		return nil
	})
	return id, err
}

// deliver registers and dispatches one envelope.
func (s *Server) deliver(ctx context.Context, kind string, payload obj, acceptsResponse bool) (Delivery, error) {
	env, err := s.enqueue(kind, payload, acceptsResponse)
	if err != nil {
		return Delivery{}, err
	}
	return s.dispatch(ctx, env)
}

// actor checks that userID is a person of the workspace and a member of channelID (an ID or a
// name). Callers hold s.mu.
func (s *Server) actor(userID, channelID string) (*user, *channel, error) {
	u, err := s.person(userID)
	if err != nil {
		return nil, nil, err
	}
	ch, err := s.channelArg(channelID, true)
	if err != nil {
		return nil, nil, fmt.Errorf("no channel %q in the sandbox workspace", channelID)
	}
	if !ch.isMember(u.id) {
		return nil, nil, fmt.Errorf("%s is not a member of #%s", u.name, ch.name)
	}
	return u, ch, nil
}

func (s *Server) person(userID string) (*user, error) {
	if u := s.userByID(userID); u != nil && !u.isBot {
		return u, nil
	}
	return nil, fmt.Errorf("no person %q in the sandbox workspace", userID)
}

func (s *Server) locked(f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}

// eventTS is an event or action timestamp from the workspace clock. Unlike a message ts it need
// not be unique.
func (s *Server) eventTS() string {
	now := s.now()
	return fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
}

func userRef(u *user) obj {
	return obj{"id": u.id, "username": u.name, "name": u.name, "team_id": TeamID}
}

func teamRef() obj { return obj{"id": TeamID, "domain": TeamDomain} }

// textOf returns a text object's text.
func textOf(v any) string {
	t, _ := v.(map[string]any)
	s, _ := t["text"].(string)
	return s
}
