package fakeslack

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// ChannelInfo is a channel as its members see it.
type ChannelInfo struct {
	ID, Name string
	Private  bool
	Topic    string
	Members  []string
	Created  time.Time
}

// Channel finds a channel by ID or name ("deploys" or "#deploys").
func (s *Server) Channel(idOrName string) (ChannelInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.channelArg(idOrName, true)
	if err != nil {
		return ChannelInfo{}, false
	}
	return ChannelInfo{
		ID: ch.id, Name: ch.name, Private: ch.private, Topic: ch.topic,
		Members: slices.Clone(ch.members), Created: ch.created,
	}, true
}

// ChannelIDs lists every channel of the workspace, archived ones too, in creation order.
func (s *Server) ChannelIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, len(s.channels))
	for i, ch := range s.channels {
		ids[i] = ch.id
	}
	return ids
}

// Messages returns everything shown in a channel (ID or name), oldest first: messages, thread
// replies and ephemerals (with For set).
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.channelArg(channel, true)
	if err != nil {
		return nil
	}
	all := slices.DeleteFunc(append(slices.Clone(ch.messages), ch.ephemerals...), func(m *message) bool { return m.deleted })
	slices.SortFunc(all, func(a, b *message) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]Message, 0, len(all))
	for _, m := range all {
		out = append(out, s.snapshot(ch, m))
	}
	return out
}

// Pins returns the messages pinned in a channel (ID or name), oldest pin first.
func (s *Server) Pins(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.channelArg(channel, true)
	if err != nil {
		return nil
	}
	var out []Message
	for _, p := range ch.pins {
		if m := ch.byTS[p.ts]; !m.deleted {
			out = append(out, s.snapshot(ch, m))
		}
	}
	return out
}

// OpenView returns the modal userID has open on top, as views.open returned it.
func (s *Server) OpenView(userID string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stack := s.modals[userID]
	if len(stack) == 0 {
		return nil, false
	}
	raw, err := json.Marshal(stack[len(stack)-1].json())
	return raw, err == nil
}

// Shown is what a message shows as text, for a test to search: its fallback text, then every
// text of its blocks, one per line (a block's own fields in no set order). Blocks that are not
// JSON add nothing.
func Shown(text string, blocks json.RawMessage) string {
	texts := []string{text}
	var decoded any
	if len(blocks) > 0 && json.Unmarshal(blocks, &decoded) == nil {
		collectTexts(decoded, &texts)
	}
	return strings.Join(texts, "\n")
}

func collectTexts(node any, into *[]string) {
	switch n := node.(type) {
	case map[string]any:
		if s, ok := n["text"].(string); ok {
			*into = append(*into, s)
		}
		for _, v := range n {
			collectTexts(v, into)
		}
	case []any:
		for _, v := range n {
			collectTexts(v, into)
		}
	}
}
