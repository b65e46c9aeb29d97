package fakeslack

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	maxChannelName = 80
	maxTopic       = 250
)

var (
	channelNameChars = regexp.MustCompile(`^[a-z0-9_-]+$`)
	onlyPunctuation  = regexp.MustCompile(`^[_-]+$`)
)

// channelJSON renders ch as conversations.* return it. Callers hold s.mu.
func (s *Server) channelJSON(ch *channel) obj {
	return obj{
		"id": ch.id, "name": ch.name, "name_normalized": ch.name, "created": ch.created.Unix(), "creator": ch.creator,
		"is_channel": true, "is_group": false, "is_im": false, "is_mpim": false, "is_private": ch.private,
		"is_archived": false, "is_general": false, "is_shared": false, "is_ext_shared": false, "is_org_shared": false,
		"is_member": ch.isMember(BotUserID), "num_members": len(ch.members), "context_team_id": TeamID,
		"topic":   obj{"value": ch.topic, "creator": ch.topicCreator, "last_set": lastSet(ch.topicSet)},
		"purpose": obj{"value": "", "creator": "", "last_set": 0},
	}
}

func lastSet(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// visibleChannel resolves a channel the bot can see: public ones, and private ones it is in.
func (s *Server) visibleChannel(arg string) (*channel, error) {
	ch, err := s.channelArg(arg, false)
	if err == nil && ch.private && !ch.isMember(BotUserID) {
		return nil, fail("channel_not_found")
	}
	return ch, err
}

// memberChannel resolves a channel the bot must be in.
func (s *Server) memberChannel(arg string) (*channel, error) {
	ch, err := s.visibleChannel(arg)
	if err == nil && !ch.isMember(BotUserID) {
		return nil, fail("not_in_channel")
	}
	return ch, err
}

func (s *Server) conversationsCreate(c *call) (obj, error) {
	ch, err := s.createChannel(c.str("name"), c.flag("is_private"), BotUserID)
	if err != nil {
		return nil, err
	}
	return obj{"channel": s.channelJSON(ch)}, nil
}

// createChannel creates a channel whose only member is its creator, after Slack's name rules.
// Callers hold s.mu.
func (s *Server) createChannel(name string, private bool, creator string) (*channel, error) {
	switch {
	case name == "":
		return nil, fail("invalid_name_required")
	case utf8.RuneCountInString(name) > maxChannelName:
		return nil, fail("invalid_name_maxlength")
	case !channelNameChars.MatchString(name):
		return nil, fail("invalid_name_specials")
	case onlyPunctuation.MatchString(name):
		return nil, fail("invalid_name_punctuation")
	}
	for _, ch := range s.channels {
		if ch.name == name {
			return nil, fail("name_taken")
		}
	}
	ch := newChannel(s.nextSerial("C"), name, private, creator, s.now(), []string{creator})
	s.channels = append(s.channels, ch)
	s.emit(Change{Kind: ChannelCreated, Message: Message{ChannelID: ch.id, ChannelName: ch.name, User: creator}})
	return ch, nil
}

func (s *Server) conversationsSetTopic(c *call) (obj, error) {
	ch, err := s.memberChannel(c.str("channel"))
	if err != nil {
		return nil, err
	}
	topic := c.str("topic")
	if utf8.RuneCountInString(topic) > maxTopic {
		return nil, fail("too_long")
	}
	ch.topic, ch.topicCreator, ch.topicSet = topic, BotUserID, s.now()
	s.emit(Change{Kind: TopicSet, Message: Message{ChannelID: ch.id, ChannelName: ch.name, User: BotUserID, Text: topic}})
	return obj{"channel": s.channelJSON(ch)}, nil
}

func (s *Server) conversationsInvite(c *call) (obj, error) {
	ch, err := s.memberChannel(c.str("channel"))
	if err != nil {
		return nil, err
	}
	var invited []string
	var problems []obj
	for _, id := range strings.Split(c.str("users"), ",") {
		id = strings.TrimSpace(id)
		problem := ""
		switch {
		case id == "":
			continue
		case s.userByID(id) == nil:
			problem = "user_not_found"
		case id == BotUserID:
			problem = "cant_invite_self"
		case ch.isMember(id) || slices.Contains(invited, id):
			problem = "already_in_channel"
		default:
			invited = append(invited, id)
		}
		if problem != "" {
			problems = append(problems, obj{"user": id, "ok": false, "error": problem})
		}
	}
	if len(invited) == 0 && len(problems) == 0 {
		return nil, fail("no_user")
	}
	if len(problems) > 0 && (!c.flag("force") || len(invited) == 0) {
		return nil, &apiError{code: problems[0]["error"].(string), fields: obj{"errors": problems}}
	}
	ch.members = append(ch.members, invited...)
	s.emit(Change{Kind: MembersInvited, Message: Message{ChannelID: ch.id, ChannelName: ch.name, User: BotUserID}, Members: invited})
	answer := obj{"channel": s.channelJSON(ch)}
	if len(problems) > 0 {
		answer["errors"] = problems
	}
	return answer, nil
}

func (s *Server) conversationsInfo(c *call) (obj, error) {
	ch, err := s.visibleChannel(c.str("channel"))
	if err != nil {
		return nil, err
	}
	return obj{"channel": s.channelJSON(ch)}, nil
}

func (s *Server) conversationsList(c *call) (obj, error) {
	types := c.str("types")
	if types == "" {
		types = "public_channel"
	}
	var list []obj
	for _, ch := range s.channels {
		public := !ch.private && strings.Contains(types, "public_channel")
		private := ch.private && ch.isMember(BotUserID) && strings.Contains(types, "private_channel")
		if public || private {
			list = append(list, s.channelJSON(ch))
		}
	}
	return paged(c, "channels", list, 100, 1000)
}

func (s *Server) conversationsMembers(c *call) (obj, error) {
	ch, err := s.visibleChannel(c.str("channel"))
	if err != nil {
		return nil, err
	}
	return paged(c, "members", slices.Clone(ch.members), 100, 1000)
}

func (s *Server) conversationsHistory(c *call) (obj, error) {
	ch, err := s.memberChannel(c.str("channel"))
	if err != nil {
		return nil, err
	}
	window, err := readWindow(c)
	if err != nil {
		return nil, err
	}
	var list []obj
	for i := len(ch.messages) - 1; i >= 0; i-- { // newest first
		m := ch.messages[i]
		if !m.deleted && m.threadTS == "" && window.contains(m.ts) {
			list = append(list, s.messageJSON(ch, m, c.flag("include_all_metadata")))
		}
	}
	return paged(c, "messages", list, 100, 999)
}

func (s *Server) conversationsReplies(c *call) (obj, error) {
	ch, err := s.memberChannel(c.str("channel"))
	if err != nil {
		return nil, err
	}
	window, err := readWindow(c)
	if err != nil {
		return nil, err
	}
	parent := ch.byTS[c.str("ts")]
	if parent != nil && parent.threadTS != "" {
		parent = ch.byTS[parent.threadTS]
	}
	if parent == nil || parent.deleted {
		return nil, fail("thread_not_found")
	}
	withMetadata := c.flag("include_all_metadata")
	list := []obj{s.messageJSON(ch, parent, withMetadata)} // Slack always leads with the parent
	for _, m := range ch.replies[parent.ts] {
		if !m.deleted && window.contains(m.ts) {
			list = append(list, s.messageJSON(ch, m, withMetadata))
		}
	}
	return paged(c, "messages", list, 1000, 1000)
}

// window is the oldest/latest/inclusive filter of conversations.history and .replies.
type window struct {
	oldest, latest int64 // microseconds; latest 0 means now
	inclusive      bool
}

func readWindow(c *call) (window, error) {
	w := window{inclusive: c.flag("inclusive")}
	var err error
	if v := c.str("oldest"); v != "" {
		if w.oldest, err = tsMicros(v); err != nil {
			return w, fail("invalid_ts_oldest")
		}
	}
	if v := c.str("latest"); v != "" {
		if w.latest, err = tsMicros(v); err != nil {
			return w, fail("invalid_ts_latest")
		}
	}
	return w, nil
}

func (w window) contains(ts string) bool {
	t, _ := tsMicros(ts)
	if w.inclusive {
		return t >= w.oldest && (w.latest == 0 || t <= w.latest)
	}
	return t > w.oldest && (w.latest == 0 || t < w.latest)
}

// tsMicros reads a Slack timestamp ("1732570000.000100", or whole seconds) as microseconds.
func tsMicros(ts string) (int64, error) {
	secs, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return 0, err
	}
	var micros int64
	if frac != "" {
		frac = (frac + "000000")[:6]
		if micros, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return 0, err
		}
	}
	return s*1e6 + micros, nil
}

// paged answers one page of list under key, with Slack's cursor pagination.
func paged[T any](c *call, key string, list []T, def, most int) (obj, error) {
	start := 0
	if cursor := c.str("cursor"); cursor != "" {
		raw, _ := base64.StdEncoding.DecodeString(cursor) // a bad encoding lacks the prefix below
		offset, ok := strings.CutPrefix(string(raw), "next:")
		n, err := strconv.Atoi(offset)
		if !ok || err != nil || n < 0 || n > len(list) {
			return nil, fail("invalid_cursor")
		}
		start = n
	}
	end := min(len(list), start+c.limit(def, most))
	next := ""
	if end < len(list) {
		next = base64.StdEncoding.EncodeToString([]byte("next:" + strconv.Itoa(end)))
	}
	items := list[start:end]
	if items == nil {
		items = []T{}
	}
	return obj{key: items, "has_more": next != "", "response_metadata": obj{"next_cursor": next}}, nil
}

func (s *Server) pinsAdd(c *call) (obj, error) {
	ch, err := s.memberChannel(c.str("channel"))
	if err != nil {
		return nil, err
	}
	ts := c.str("timestamp")
	if ts == "" {
		return nil, fail("no_item_specified")
	}
	return nil, s.pin(ch, ts, BotUserID)
}

// pin pins the message at ts on behalf of userID. Callers hold s.mu.
func (s *Server) pin(ch *channel, ts, userID string) error {
	m := ch.byTS[ts]
	if m == nil || m.deleted {
		return fail("message_not_found")
	}
	for _, p := range ch.pins {
		if p.ts == ts {
			return fail("already_pinned")
		}
	}
	ch.pins = append(ch.pins, pin{ts: ts, by: userID, created: s.now()})
	snap := s.snapshot(ch, m)
	snap.User = userID
	s.emit(Change{Kind: Pinned, Message: snap})
	return nil
}

func (s *Server) pinsList(c *call) (obj, error) {
	ch, err := s.memberChannel(c.str("channel"))
	if err != nil {
		return nil, err
	}
	items := []obj{}
	for i := len(ch.pins) - 1; i >= 0; i-- {
		p := ch.pins[i]
		if m := ch.byTS[p.ts]; !m.deleted {
			items = append(items, obj{
				"type": "message", "channel": ch.id, "created": p.created.Unix(), "created_by": p.by,
				"message": s.messageJSON(ch, m, false),
			})
		}
	}
	return obj{"items": items}, nil
}

func (s *Server) reactionsAdd(c *call) (obj, error) {
	ch, err := s.visibleChannel(c.str("channel"))
	if err != nil {
		return nil, err
	}
	return nil, s.react(ch, c.str("timestamp"), BotUserID, c.str("name"))
}

var reactionName = regexp.MustCompile(`^[a-z0-9_+'-]+(::skin-tone-[2-6])?$`)

// react adds userID's reaction to the message at ts. Callers hold s.mu.
func (s *Server) react(ch *channel, ts, userID, name string) error {
	if !reactionName.MatchString(name) {
		return fail("invalid_name")
	}
	m := ch.byTS[ts]
	if m == nil || m.deleted {
		return fail("message_not_found")
	}
	i := slices.IndexFunc(m.reactions, func(r reaction) bool { return r.name == name })
	if i < 0 {
		m.reactions = append(m.reactions, reaction{name: name})
		i = len(m.reactions) - 1
	}
	if slices.Contains(m.reactions[i].users, userID) {
		return fail("already_reacted")
	}
	m.reactions[i].users = append(m.reactions[i].users, userID)
	snap := s.snapshot(ch, m)
	snap.User = userID
	s.emit(Change{Kind: ReactionAdded, Message: snap, Reaction: name})
	return nil
}
