package fakeslack

import (
	"fmt"
	"net/url"
	"strings"
)

func (s *Server) authTest(*call) (obj, error) {
	return obj{
		"url": "https://" + TeamDomain + ".slack.com/", "team": "Sandbox", "user": BotName,
		"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID, "is_enterprise_install": false,
	}, nil
}

func (s *Server) chatPostMessage(c *call) (obj, error) {
	ch, err := s.channelArg(c.str("channel"), true)
	if err != nil {
		return nil, err
	}
	if !ch.isMember(BotUserID) {
		return nil, fail("not_in_channel")
	}
	body, err := readNewContent(c)
	if err != nil {
		return nil, err
	}
	threadTS := c.str("thread_ts")
	if threadTS != "" {
		if _, err := threadParent(ch, threadTS); err != nil {
			return nil, err
		}
	}
	m := &message{user: BotUserID, threadTS: threadTS}
	m.setContent(body)
	s.post(ch, m)
	return obj{"channel": ch.id, "ts": m.ts, "message": s.messageJSON(ch, m, true)}, nil
}

func (m *message) setContent(body content) {
	m.text, m.blocks, m.attachments, m.metadata = body.text, body.blocks, body.attachments, body.metadata
}

func (s *Server) chatUpdate(c *call) (obj, error) {
	ch, err := s.channelArg(c.str("channel"), false)
	if err != nil {
		return nil, err
	}
	m := ch.byTS[c.str("ts")]
	if m == nil || m.deleted {
		return nil, fail("message_not_found")
	}
	if !m.fromBot() {
		return nil, fail("cant_update_message")
	}
	body, present, err := readContent(c)
	if err != nil {
		return nil, err
	}
	if !present["text"] && !present["blocks"] && !present["attachments"] {
		return nil, fail("no_text")
	}
	s.update(ch, m, body, present)
	return obj{"channel": ch.id, "ts": m.ts, "text": m.text, "message": s.messageJSON(ch, m, true)}, nil
}

// update replaces the fields present in body, as chat.update and replace_original do. Callers
// hold s.mu.
func (s *Server) update(ch *channel, m *message, body content, present map[string]bool) {
	if present["text"] {
		m.text = body.text
	}
	if present["blocks"] {
		m.blocks = body.blocks
	}
	if present["attachments"] {
		m.attachments = body.attachments
	}
	if present["metadata"] {
		m.metadata = body.metadata
	}
	m.editedTS = s.nextTS()
	s.emit(Change{Kind: MessageUpdated, Message: s.snapshot(ch, m)})
}

func (s *Server) chatPostEphemeral(c *call) (obj, error) {
	ch, err := s.channelArg(c.str("channel"), true)
	if err != nil {
		return nil, err
	}
	if !ch.isMember(BotUserID) {
		return nil, fail("not_in_channel")
	}
	to := c.str("user")
	if s.userByID(to) == nil {
		return nil, fail("user_not_found")
	}
	if !ch.isMember(to) {
		return nil, fail("user_not_in_channel")
	}
	body, err := readNewContent(c)
	if err != nil {
		return nil, err
	}
	threadTS := c.str("thread_ts")
	if threadTS != "" {
		if _, err := threadParent(ch, threadTS); err != nil {
			return nil, err
		}
	}
	m := &message{user: BotUserID, forUser: to, threadTS: threadTS}
	m.setContent(body)
	s.postEphemeral(ch, m)
	return obj{"message_ts": m.ts}, nil
}

func (s *Server) chatGetPermalink(c *call) (obj, error) {
	ch, err := s.channelArg(c.str("channel"), false)
	if err != nil {
		return nil, err
	}
	m := ch.byTS[c.str("message_ts")]
	if m == nil || m.deleted {
		return nil, fail("message_not_found")
	}
	return obj{"channel": ch.id, "permalink": permalink(ch, m)}, nil
}

func permalink(ch *channel, m *message) string {
	link := fmt.Sprintf("https://%s.slack.com/archives/%s/p%s", TeamDomain, ch.id, strings.ReplaceAll(m.ts, ".", ""))
	if m.threadTS != "" {
		link += "?" + url.Values{"thread_ts": {m.threadTS}, "cid": {ch.id}}.Encode()
	}
	return link
}
