package fakeslack

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// Slack's limits on a response_url.
const (
	responseURLLifetime = 30 * time.Minute
	responseURLUses     = 5
)

// hook is a response_url handed to the bot with a person's action; guarded by Server.mu.
type hook struct {
	user     string
	channel  *channel
	original *message // the message whose button was pressed; nil for a slash command
	issued   time.Time
	uses     int
}

// newHook issues a response_url for an action by userID in ch. Callers hold s.mu.
func (s *Server) newHook(kind, userID string, ch *channel, original *message) string {
	path := fmt.Sprintf("/hooks/%s/%s/%d/%s", kind, TeamID, len(s.hooks)+1, randomID(24))
	s.hooks[path] = &hook{user: userID, channel: ch, original: original, issued: s.now()}
	return s.baseURL + path
}

// serveResponseURL accepts a post to a response_url: a new message (ephemeral unless
// response_type is in_channel), or replace_original / delete_original for the message whose
// button was pressed.
func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, obj{"ok": false, "error": "method_not_allowed"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	var fields map[string]any
	if err == nil {
		err = decodeJSON(body, &fields)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hooks[r.URL.Path]
	status := http.StatusOK
	switch {
	case h == nil:
		status, err = http.StatusNotFound, fail("no_service")
	case s.now().Sub(h.issued) > responseURLLifetime || h.uses >= responseURLUses:
		status, err = http.StatusNotFound, fail("expired_url")
	case err != nil:
		status, err = http.StatusBadRequest, fail("invalid_payload")
	default:
		h.uses++
		if err = s.respond(h, &call{method: "response_url", params: fields}); err != nil {
			status = http.StatusBadRequest
		}
	}
	if err != nil {
		s.refuse("response_url", err)
		writeJSON(w, status, obj{"ok": false, "error": err.Error()})
		return
	}
	writeJSON(w, status, obj{"ok": true})
}

// respond carries out one response_url post. Callers hold s.mu.
func (s *Server) respond(h *hook, c *call) error {
	ch, m := h.channel, h.original
	switch {
	case c.flag("delete_original") && m != nil:
		s.remove(ch, m)
		return nil
	case c.flag("replace_original") && m != nil:
		body, present, err := readContent(c)
		if err == nil && !present["text"] && !present["blocks"] {
			err = fail("no_text")
		}
		if err != nil {
			return err
		}
		s.update(ch, m, body, present)
		return nil
	}
	body, err := readNewContent(c)
	if err != nil {
		return err
	}
	threadTS := c.str("thread_ts")
	if threadTS != "" {
		if _, err := threadParent(ch, threadTS); err != nil {
			return err
		}
	}
	reply := &message{user: BotUserID, threadTS: threadTS}
	reply.setContent(body)
	if c.str("response_type") == "in_channel" {
		s.post(ch, reply)
	} else {
		reply.forUser = h.user
		s.postEphemeral(ch, reply)
	}
	return nil
}

// remove deletes a message or an ephemeral. Callers hold s.mu.
func (s *Server) remove(ch *channel, m *message) {
	if m.forUser != "" {
		ch.ephemerals = slices.DeleteFunc(ch.ephemerals, func(e *message) bool { return e == m })
	}
	m.deleted = true
	s.emit(Change{Kind: MessageDeleted, Message: s.snapshot(ch, m)})
}
