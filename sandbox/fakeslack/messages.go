package fakeslack

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// content is what a message shows, as read from chat.postMessage, chat.update, an ack payload or
// a response_url body, after Slack's checks.
type content struct {
	text        string
	blocks      []any
	attachments json.RawMessage
	metadata    json.RawMessage
}

// readContent reads and checks text, blocks, attachments and metadata. For chat.update an absent
// field keeps the message's current one; present reports which fields the call carried.
func readContent(c *call) (body content, present map[string]bool, err error) {
	present = map[string]bool{}
	if c.has("text") {
		present["text"] = true
		body.text = c.str("text")
		if utf8.RuneCountInString(body.text) > maxMessageText {
			return body, present, fail("msg_too_long")
		}
	}
	blocks, ok, err := c.jsonArg("blocks")
	if err != nil {
		return body, present, fail("invalid_blocks_format")
	}
	if ok {
		list, isList := blocks.([]any)
		if !isList {
			return body, present, fail("invalid_blocks_format")
		}
		if problems := checkBlocks(list); len(problems) > 0 {
			return body, present, fail("invalid_blocks", problems...)
		}
		present["blocks"] = true
		body.blocks = fillGeneratedIDs(list)
	}
	attachments, ok, err := c.jsonArg("attachments")
	if ok {
		if _, isList := attachments.([]any); err != nil || !isList {
			return body, present, fail("invalid_attachments")
		}
		present["attachments"] = true
		body.attachments, _ = json.Marshal(attachments)
	}
	metadata, ok, err := c.jsonArg("metadata")
	if ok && !emptyMetadata(metadata) {
		m, isObject := metadata.(map[string]any)
		if err != nil || !isObject {
			return body, present, fail("invalid_metadata_format")
		}
		if eventType, _ := m["event_type"].(string); eventType == "" {
			return body, present, fail("invalid_metadata_schema", "missing required field: event_type")
		}
		if _, ok := m["event_payload"].(map[string]any); !ok {
			return body, present, fail("invalid_metadata_schema", "event_payload must be an object")
		}
		present["metadata"] = true
		body.metadata, _ = json.Marshal(m)
	}
	return body, present, nil
}

// emptyMetadata reports the zero metadata slack-go sends with every response_url post, which
// Slack ignores.
func emptyMetadata(v any) bool {
	m, ok := v.(map[string]any)
	return ok && (m["event_type"] == nil || m["event_type"] == "") && m["event_payload"] == nil
}

// readNewContent reads a new message's content: it must show something.
func readNewContent(c *call) (content, error) {
	body, _, err := readContent(c)
	if err == nil && body.text == "" && len(body.blocks) == 0 && len(body.attachments) == 0 {
		err = fail("no_text")
	}
	return body, err
}

// fillGeneratedIDs gives every block and interactive element without an id one, as Slack does
// when it stores a message, so that the payload of a click names them.
func fillGeneratedIDs(blocks []any) []any {
	for _, b := range blocks {
		block, _ := b.(map[string]any)
		if block == nil {
			continue
		}
		if _, ok := block["block_id"]; !ok {
			block["block_id"] = randomID(5)
		}
		for _, e := range blockElements(block) {
			if _, ok := e["action_id"]; !ok && e["type"] != "image" {
				e["action_id"] = randomID(5)
			}
		}
	}
	return blocks
}

// blockElements returns a block's interactive elements: an actions block's elements, a section's
// accessory, an input's element.
func blockElements(block map[string]any) []map[string]any {
	var found []map[string]any
	add := func(v any) {
		if e, ok := v.(map[string]any); ok {
			found = append(found, e)
		}
	}
	switch block["type"] {
	case "actions":
		elements, _ := block["elements"].([]any)
		for _, e := range elements {
			add(e)
		}
	case "section":
		add(block["accessory"])
	case "input":
		add(block["element"])
	}
	return found
}

// randomID returns n characters like the ids Slack generates.
func randomID(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	for i, b := range buf {
		buf[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(buf)
}

// uuid returns a random RFC 4122 version 4 UUID string, the shape of Slack's envelope ids.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// channelArg resolves a channel argument. byName also accepts "deploys" or "#deploys", as
// chat.postMessage does. Callers hold s.mu.
func (s *Server) channelArg(arg string, byName bool) (*channel, error) {
	for _, ch := range s.channels {
		if ch.id == arg || byName && ch.name == strings.TrimPrefix(arg, "#") {
			return ch, nil
		}
	}
	return nil, fail("channel_not_found")
}

func (s *Server) userByID(id string) *user {
	for _, u := range s.users {
		if u.id == id {
			return u
		}
	}
	return nil
}

// threadParent checks that ts names a top-level message of ch, as thread_ts must.
func threadParent(ch *channel, ts string) (*message, error) {
	m := ch.byTS[ts]
	if m == nil || m.deleted || m.threadTS != "" {
		return nil, fail("thread_not_found")
	}
	return m, nil
}

// post stores a new channel message (or thread reply) and shows it. Callers hold s.mu.
func (s *Server) post(ch *channel, m *message) {
	s.seq++
	m.seq, m.ts = s.seq, s.nextTS()
	ch.messages = append(ch.messages, m)
	ch.byTS[m.ts] = m
	if m.threadTS != "" {
		ch.replies[m.threadTS] = append(ch.replies[m.threadTS], m)
	}
	s.emit(Change{Kind: MessagePosted, Message: s.snapshot(ch, m)})
}

// postEphemeral shows m only to m.forUser. Callers hold s.mu.
func (s *Server) postEphemeral(ch *channel, m *message) {
	s.seq++
	m.seq, m.ts = s.seq, s.nextTS()
	ch.ephemerals = append(ch.ephemerals, m)
	s.emit(Change{Kind: EphemeralShown, Message: s.snapshot(ch, m)})
}

// snapshot renders m for observers. Callers hold s.mu.
func (s *Server) snapshot(ch *channel, m *message) Message {
	snap := Message{
		ChannelID: ch.id, ChannelName: ch.name, TS: m.ts, ThreadTS: m.threadTS, User: m.user,
		For: m.forUser, Text: m.text, Metadata: m.metadata, Edited: m.editedTS != "",
	}
	if m.blocks != nil {
		snap.Blocks, _ = json.Marshal(m.blocks)
	}
	return snap
}

// messageJSON renders m as the Web API returns messages. Callers hold s.mu.
func (s *Server) messageJSON(ch *channel, m *message, withMetadata bool) obj {
	o := obj{"type": "message", "ts": m.ts, "text": m.text, "user": m.user, "team": TeamID}
	if m.fromBot() {
		o["bot_id"], o["app_id"] = BotID, AppID
		o["bot_profile"] = obj{"id": BotID, "app_id": AppID, "name": BotName, "team_id": TeamID, "deleted": false}
	}
	if m.blocks != nil {
		o["blocks"] = m.blocks
	}
	if len(m.attachments) > 0 {
		o["attachments"] = m.attachments
	}
	if m.threadTS != "" { // a reply
		o["thread_ts"] = m.threadTS
		o["parent_user_id"] = ch.byTS[m.threadTS].user
	}
	if replies := ch.replies[m.ts]; len(replies) > 0 { // a thread's parent
		var repliers []string
		for _, r := range replies {
			if !slices.Contains(repliers, r.user) {
				repliers = append(repliers, r.user)
			}
		}
		o["thread_ts"], o["latest_reply"] = m.ts, replies[len(replies)-1].ts
		o["reply_count"], o["reply_users"], o["reply_users_count"] = len(replies), repliers, len(repliers)
	}
	if m.editedTS != "" {
		o["edited"] = obj{"user": m.user, "ts": m.editedTS}
	}
	if withMetadata && m.metadata != nil {
		o["metadata"] = m.metadata
	}
	if len(m.reactions) > 0 {
		var rs []obj
		for _, r := range m.reactions {
			rs = append(rs, obj{"name": r.name, "users": r.users, "count": len(r.users)})
		}
		o["reactions"] = rs
	}
	for _, p := range ch.pins {
		if p.ts == m.ts {
			o["pinned_to"] = []string{ch.id}
		}
	}
	return o
}
