package fakeslack

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

const (
	// triggerLifetime is how long a trigger_id may be exchanged for a modal.
	triggerLifetime = 3 * time.Second
	// maxViewStack is how many modals views.push may stack.
	maxViewStack = 3
)

// trigger is a trigger_id handed to the bot with a person's action; guarded by Server.mu.
type trigger struct {
	user   string
	issued time.Time // workspace clock
	used   bool
}

// newTrigger issues a trigger_id for userID. Callers hold s.mu.
func (s *Server) newTrigger(userID string) string {
	now := s.now()
	id := fmt.Sprintf("%d.%d.%s", now.Unix(), len(s.triggers)+1, randomID(32))
	s.triggers[id] = &trigger{user: userID, issued: now}
	return id
}

// exchangeTrigger spends a trigger_id and returns whom it was issued for.
func (s *Server) exchangeTrigger(id string) (string, error) {
	t := s.triggers[id]
	switch {
	case t == nil:
		return "", fail("invalid_trigger_id")
	case t.used:
		return "", fail("exchanged_trigger_id")
	case s.now().Sub(t.issued) > triggerLifetime:
		return "", fail("expired_trigger_id")
	}
	t.used = true
	return t.user, nil
}

// view is a modal open for one person; guarded by Server.mu.
type view struct {
	id, hash   string
	user       string
	rootID     string
	previousID string
	spec       map[string]any            // the view as the bot sent it
	values     map[string]map[string]any // state.values: block_id → action_id → value
	errors     map[string]string         // shown after response_action "errors"
}

// viewJSON renders v as views.* return it and view payloads carry it.
func (v *view) json() obj {
	out := obj{
		"private_metadata": "", "callback_id": "", "external_id": "", "clear_on_close": false,
		"notify_on_close": false, "submit_disabled": false,
	}
	maps.Copy(out, v.spec)
	values := obj{}
	for blockID, actions := range v.values {
		values[blockID] = actions
	}
	maps.Copy(out, obj{
		"id": v.id, "team_id": TeamID, "state": obj{"values": values}, "hash": v.hash,
		"root_view_id": v.rootID, "previous_view_id": nilIfEmpty(v.previousID), "app_id": AppID,
		"app_installed_team_id": TeamID, "bot_id": BotID,
	})
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// readView reads and checks the view argument.
func readView(c *call) (map[string]any, error) {
	v, present, err := c.jsonArg("view")
	if !present || err != nil {
		return nil, fail("invalid_arguments", "[ERROR] missing or unreadable view [json-pointer:/view]")
	}
	if problems := checkView(v); len(problems) > 0 {
		return nil, fail("invalid_arguments", problems...)
	}
	spec := v.(map[string]any)
	if blocks, ok := spec["blocks"].([]any); ok {
		fillGeneratedIDs(blocks)
	}
	return spec, nil
}

// checkExternalID refuses an external_id another open view already has.
func (s *Server) checkExternalID(spec map[string]any, except *view) error {
	id, _ := spec["external_id"].(string)
	if id == "" {
		return nil
	}
	for _, v := range s.views {
		if v != except && v.spec["external_id"] == id {
			return fail("duplicate_external_id")
		}
	}
	return nil
}

func (s *Server) viewsOpen(c *call) (obj, error) {
	spec, err := readView(c)
	if err != nil {
		return nil, err
	}
	if err := s.checkExternalID(spec, nil); err != nil {
		return nil, err
	}
	userID, err := s.exchangeTrigger(c.str("trigger_id"))
	if err != nil {
		return nil, err
	}
	s.closeModals(userID) // a new modal replaces whatever the person had open
	return obj{"view": s.pushView(userID, spec).json()}, nil
}

func (s *Server) viewsPush(c *call) (obj, error) {
	spec, err := readView(c)
	if err != nil {
		return nil, err
	}
	if err := s.checkExternalID(spec, nil); err != nil {
		return nil, err
	}
	userID, err := s.exchangeTrigger(c.str("trigger_id"))
	if err != nil {
		return nil, err
	}
	switch n := len(s.modals[userID]); {
	case n == 0:
		return nil, fail("invalid_arguments", "no open view to push onto")
	case n >= maxViewStack:
		return nil, fail("push_limit_reached")
	}
	return obj{"view": s.pushView(userID, spec).json()}, nil
}

func (s *Server) viewsUpdate(c *call) (obj, error) {
	viewID, externalID := c.str("view_id"), c.str("external_id")
	if viewID == "" && externalID == "" {
		return nil, fail("invalid_arguments", "either view_id or external_id is required")
	}
	var target *view
	for _, v := range s.views {
		if viewID != "" && v.id == viewID || viewID == "" && v.spec["external_id"] == externalID {
			target = v
		}
	}
	if target == nil {
		return nil, fail("not_found")
	}
	if hash := c.str("hash"); hash != "" && hash != target.hash {
		return nil, fail("hash_conflict")
	}
	spec, err := readView(c)
	if err != nil {
		return nil, err
	}
	if err := s.checkExternalID(spec, target); err != nil {
		return nil, err
	}
	s.replaceView(target, spec)
	return obj{"view": target.json()}, nil
}

// pushView opens spec on top of userID's modal stack. Callers hold s.mu.
func (s *Server) pushView(userID string, spec map[string]any) *view {
	v := &view{id: s.nextSerial("V"), hash: s.viewHash(), user: userID, spec: spec, values: map[string]map[string]any{}}
	stack := s.modals[userID]
	v.rootID = v.id
	if len(stack) > 0 {
		v.rootID, v.previousID = stack[0].id, stack[len(stack)-1].id
	}
	s.modals[userID] = append(stack, v)
	s.views[v.id] = v
	s.emitView(ModalOpened, v)
	return v
}

// replaceView shows spec in place of v, as views.update and response_action "update" do.
// Callers hold s.mu.
func (s *Server) replaceView(v *view, spec map[string]any) {
	v.spec, v.hash, v.errors = spec, s.viewHash(), nil
	s.emitView(ModalUpdated, v)
}

// closeTopModal closes userID's top modal, uncovering the one below. Callers hold s.mu.
func (s *Server) closeTopModal(userID string) *view {
	stack := s.modals[userID]
	if len(stack) == 0 {
		return nil
	}
	top := stack[len(stack)-1]
	s.modals[userID] = stack[:len(stack)-1]
	delete(s.views, top.id)
	s.emitView(ModalClosed, top)
	return top
}

// closeModals closes every modal userID has open. Callers hold s.mu.
func (s *Server) closeModals(userID string) {
	for s.closeTopModal(userID) != nil {
	}
}

func (s *Server) viewHash() string { return fmt.Sprintf("%d.%s", s.now().Unix(), randomID(8)) }

func (s *Server) emitView(kind ChangeKind, v *view) {
	raw, _ := json.Marshal(v.json())
	s.emit(Change{Kind: kind, Message: Message{User: BotUserID, For: v.user}, View: raw, Errors: maps.Clone(v.errors)})
}
