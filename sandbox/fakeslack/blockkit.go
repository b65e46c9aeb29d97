package fakeslack

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"unicode/utf8"
)

// Block Kit validation. Slack refuses a message or view that breaks a documented limit and names
// every problem as "[ERROR] <what> [json-pointer:<where>]" in response_metadata.messages; the
// checks below are declarative shapes for the blocks and elements opsbot can use, so that an
// unknown property (a typo such as "action_Id") is refused as Slack refuses it.

const (
	maxMessageBlocks = 50
	maxViewBlocks    = 100
	maxMessageText   = 40000
)

// surface is where blocks are shown; input blocks exist only in views.
type surface int

const (
	inMessage surface = iota
	inView
)

// kit collects the problems found in one message or view.
type kit struct {
	surface   surface
	problems  []string
	blockIDs  map[string]bool
	actionIDs map[string]bool // reset for every block
}

func (k *kit) fail(path, format string, args ...any) {
	k.problems = append(k.problems, fmt.Sprintf("[ERROR] %s [json-pointer:%s]", fmt.Sprintf(format, args...), path))
}

// prop checks one property value found at path.
type prop func(k *kit, v any, path string)

// shape is an object type: its properties, which of them are required, and any rule that spans
// several properties. "type" is always allowed; the caller dispatched on it.
type shape struct {
	props    map[string]prop
	required []string
	extra    func(k *kit, obj map[string]any, path string)
}

func (k *kit) object(v any, path string, s shape) {
	obj, ok := v.(map[string]any)
	if !ok {
		k.fail(path, "must be an object")
		return
	}
	for _, name := range s.required {
		if _, ok := obj[name]; !ok {
			k.fail(path, "missing required field: %s", name)
		}
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "type" {
			continue
		}
		check, known := s.props[name]
		if !known {
			k.fail(path, "invalid additional property: %s", name)
			continue
		}
		check(k, obj[name], path+"/"+name)
	}
	if s.extra != nil {
		s.extra(k, obj, path)
	}
}

func str(minLen, maxLen int) prop {
	return func(k *kit, v any, path string) {
		s, ok := v.(string)
		if !ok {
			k.fail(path, "must be a string")
			return
		}
		switch n := utf8.RuneCountInString(s); {
		case n < minLen:
			k.fail(path, "must be more than %d characters", minLen-1)
		case n > maxLen:
			k.fail(path, "must be less than %d characters", maxLen+1)
		}
	}
}

func boolean(k *kit, v any, path string) {
	if _, ok := v.(bool); !ok {
		k.fail(path, "must be a boolean")
	}
}

func integer(k *kit, v any, path string) {
	n, ok := v.(json.Number)
	if !ok {
		k.fail(path, "must be an integer")
		return
	}
	if _, err := n.Int64(); err != nil {
		k.fail(path, "must be an integer")
	}
}

// anyObject accepts an object whose inside Slack documents elsewhere (filters, rich text).
func anyObject(k *kit, v any, path string) {
	if _, ok := v.(map[string]any); !ok {
		k.fail(path, "must be an object")
	}
}

func enum(allowed ...string) prop {
	return func(k *kit, v any, path string) {
		s, ok := v.(string)
		if !ok || !slices.Contains(allowed, s) {
			k.fail(path, "must be one of: %v", allowed)
		}
	}
}

func list(minItems, maxItems int, item prop) prop {
	return func(k *kit, v any, path string) {
		items, ok := v.([]any)
		if !ok {
			k.fail(path, "must be an array")
			return
		}
		if len(items) < minItems {
			k.fail(path, "must provide at least %d items", minItems)
		}
		if len(items) > maxItems {
			k.fail(path, "no more than %d items allowed", maxItems)
		}
		for i, it := range items {
			item(k, it, fmt.Sprintf("%s/%d", path, i))
		}
	}
}

// textObject checks a composition text object of one of the given kinds (plain_text, mrkdwn).
func textObject(maxLen int, kinds ...string) prop {
	return func(k *kit, v any, path string) {
		obj, ok := v.(map[string]any)
		if !ok {
			k.fail(path, "must be an object")
			return
		}
		kind, _ := obj["type"].(string)
		if !slices.Contains(kinds, kind) {
			k.fail(path+"/type", "must be one of: %v", kinds)
			return
		}
		props := map[string]prop{"text": str(1, maxLen), "emoji": boolean}
		if kind == "mrkdwn" {
			props = map[string]prop{"text": str(1, maxLen), "verbatim": boolean}
		}
		k.object(obj, path, shape{props: props, required: []string{"text"}})
	}
}

func plainText(maxLen int) prop { return textObject(maxLen, "plain_text") }
func anyText(maxLen int) prop   { return textObject(maxLen, "plain_text", "mrkdwn") }

var (
	id255    = str(1, 255)
	urlProp  = str(1, 3000)
	confirm  = func(k *kit, v any, path string) { k.object(v, path, confirmShape) }
	blockID  = func(k *kit, v any, path string) { k.uniqueID(v, path, k.blockIDs, "block_id") }
	actionID = func(k *kit, v any, path string) { k.uniqueID(v, path, k.actionIDs, "action_id") }
)

func (k *kit) uniqueID(v any, path string, seen map[string]bool, what string) {
	id255(k, v, path)
	if id, ok := v.(string); ok {
		if seen[id] {
			k.fail(path, "duplicate %s: %s", what, id)
		}
		seen[id] = true
	}
}

var confirmShape = shape{
	props: map[string]prop{
		"title": plainText(100), "text": anyText(300), "confirm": plainText(30), "deny": plainText(30),
		"style": enum("primary", "danger"),
	},
	required: []string{"title", "text", "confirm", "deny"},
}

func option(text prop) prop {
	s := shape{
		props:    map[string]prop{"text": text, "value": str(1, 150), "description": text, "url": urlProp},
		required: []string{"text", "value"},
	}
	return func(k *kit, v any, path string) { k.object(v, path, s) }
}

var (
	plainOption = option(plainText(75))
	anyOption   = option(anyText(75))
	optionGroup = func(k *kit, v any, path string) {
		k.object(v, path, shape{
			props:    map[string]prop{"label": plainText(75), "options": list(1, 100, plainOption)},
			required: []string{"label", "options"},
		})
	}
)

// with returns base extended by more, for element families that share properties.
func with(base map[string]prop, more map[string]prop) map[string]prop {
	props := make(map[string]prop, len(base)+len(more))
	for name, p := range base {
		props[name] = p
	}
	for name, p := range more {
		props[name] = p
	}
	return props
}

func needOneOf(names ...string) func(k *kit, obj map[string]any, path string) {
	return func(k *kit, obj map[string]any, path string) {
		for _, n := range names {
			if _, ok := obj[n]; ok {
				return
			}
		}
		k.fail(path, "missing required field: %s", names[0])
	}
}

var (
	selectProps = map[string]prop{
		"action_id": actionID, "placeholder": plainText(150), "focus_on_load": boolean, "confirm": confirm,
	}
	textInputProps = map[string]prop{
		"action_id": actionID, "placeholder": plainText(150), "focus_on_load": boolean,
		"initial_value": str(0, 3000), "dispatch_action_config": anyObject,
	}
	staticSelectProps = with(selectProps, map[string]prop{
		"options": list(1, 100, plainOption), "option_groups": list(1, 100, optionGroup), "initial_option": plainOption,
	})
	choiceProps = map[string]prop{
		"action_id": actionID, "options": list(1, 10, anyOption), "confirm": confirm, "focus_on_load": boolean,
	}
)

var elementShapes = map[string]shape{
	"button": {props: map[string]prop{
		"text": plainText(75), "action_id": actionID, "url": urlProp, "value": str(0, 2000),
		"style": enum("primary", "danger"), "confirm": confirm, "accessibility_label": str(1, 75),
	}, required: []string{"text"}},
	"static_select": {props: staticSelectProps, extra: needOneOf("options", "option_groups")},
	"multi_static_select": {props: with(staticSelectProps, map[string]prop{
		"initial_options": list(1, 100, plainOption), "max_selected_items": integer,
	}), extra: needOneOf("options", "option_groups")},
	"users_select": {props: with(selectProps, map[string]prop{"initial_user": id255})},
	"multi_users_select": {props: with(selectProps, map[string]prop{
		"initial_users": list(0, 100, id255), "max_selected_items": integer,
	})},
	"conversations_select": {props: with(selectProps, map[string]prop{
		"initial_conversation": id255, "default_to_current_conversation": boolean,
		"response_url_enabled": boolean, "filter": anyObject,
	})},
	"channels_select": {props: with(selectProps, map[string]prop{
		"initial_channel": id255, "response_url_enabled": boolean,
	})},
	"overflow": {props: map[string]prop{
		"action_id": actionID, "options": list(1, 5, plainOption), "confirm": confirm,
	}, required: []string{"options"}},
	"datepicker":    {props: with(selectProps, map[string]prop{"initial_date": str(10, 10)})},
	"timepicker":    {props: with(selectProps, map[string]prop{"initial_time": str(5, 5), "timezone": str(1, 255)})},
	"checkboxes":    {props: with(choiceProps, map[string]prop{"initial_options": list(1, 10, anyOption)}), required: []string{"options"}},
	"radio_buttons": {props: with(choiceProps, map[string]prop{"initial_option": anyOption}), required: []string{"options"}},
	"plain_text_input": {props: with(textInputProps, map[string]prop{
		"multiline": boolean, "min_length": integer, "max_length": integer,
	})},
	"number_input": {props: with(textInputProps, map[string]prop{
		"is_decimal_allowed": boolean, "min_value": str(1, 50), "max_value": str(1, 50),
	}), required: []string{"is_decimal_allowed"}},
	"email_text_input": {props: textInputProps},
	"url_text_input":   {props: textInputProps},
	"image": {props: map[string]prop{
		"image_url": urlProp, "alt_text": str(1, 2000), "slack_file": anyObject,
	}, required: []string{"alt_text"}, extra: needOneOf("image_url", "slack_file")},
}

var (
	interactiveElements = []string{
		"button", "static_select", "multi_static_select", "users_select", "multi_users_select",
		"conversations_select", "channels_select", "overflow", "datepicker", "timepicker",
		"checkboxes", "radio_buttons",
	}
	accessoryElements = append(slices.Clone(interactiveElements), "image")
	inputElements     = []string{
		"plain_text_input", "static_select", "multi_static_select", "users_select", "multi_users_select",
		"conversations_select", "channels_select", "datepicker", "timepicker", "checkboxes",
		"radio_buttons", "number_input", "email_text_input", "url_text_input",
	}
)

// element checks a block element whose type must be one of allowed.
func element(allowed []string) prop {
	return func(k *kit, v any, path string) {
		obj, ok := v.(map[string]any)
		if !ok {
			k.fail(path, "must be an object")
			return
		}
		kind, _ := obj["type"].(string)
		if !slices.Contains(allowed, kind) {
			k.fail(path+"/type", "unsupported type: %q", kind)
			return
		}
		k.object(obj, path, elementShapes[kind])
	}
}

func contextElement(k *kit, v any, path string) {
	if obj, ok := v.(map[string]any); ok && obj["type"] == "image" {
		element([]string{"image"})(k, v, path)
		return
	}
	anyText(3000)(k, v, path)
}

var blockShapes = map[string]shape{
	"section": {props: map[string]prop{
		"block_id": blockID, "text": anyText(3000), "fields": list(1, 10, anyText(2000)),
		"accessory": element(accessoryElements), "expand": boolean,
	}, extra: needOneOf("text", "fields")},
	"header":  {props: map[string]prop{"block_id": blockID, "text": plainText(150)}, required: []string{"text"}},
	"divider": {props: map[string]prop{"block_id": blockID}},
	"actions": {props: map[string]prop{
		"block_id": blockID, "elements": list(1, 25, element(interactiveElements)),
	}, required: []string{"elements"}},
	"context": {props: map[string]prop{
		"block_id": blockID, "elements": list(1, 10, contextElement),
	}, required: []string{"elements"}},
	"image": {props: map[string]prop{
		"block_id": blockID, "image_url": urlProp, "slack_file": anyObject, "alt_text": str(1, 2000),
		"title": plainText(2000),
	}, required: []string{"alt_text"}, extra: needOneOf("image_url", "slack_file")},
	"input": {props: map[string]prop{
		"block_id": blockID, "label": plainText(2000), "element": element(inputElements),
		"dispatch_action": boolean, "hint": plainText(2000), "optional": boolean,
	}, required: []string{"label", "element"}},
	"rich_text": {props: map[string]prop{"block_id": blockID, "elements": list(1, 100, anyObject)}, required: []string{"elements"}},
	"markdown":  {props: map[string]prop{"block_id": blockID, "text": str(1, 12000)}, required: []string{"text"}},
}

func (k *kit) blocks(v any, path string) {
	items, ok := v.([]any)
	if !ok {
		k.fail(path, "must be an array")
		return
	}
	limit := maxMessageBlocks
	if k.surface == inView {
		limit = maxViewBlocks
	}
	if len(items) > limit {
		k.fail(path, "no more than %d items allowed", limit)
	}
	for i, item := range items {
		k.block(item, fmt.Sprintf("%s/%d", path, i))
	}
}

func (k *kit) block(v any, path string) {
	obj, ok := v.(map[string]any)
	if !ok {
		k.fail(path, "must be an object")
		return
	}
	kind, _ := obj["type"].(string)
	s, known := blockShapes[kind]
	if !known {
		k.fail(path+"/type", "unsupported type: %q", kind)
		return
	}
	if kind == "input" && k.surface == inMessage {
		k.fail(path+"/type", "input blocks are only allowed in views")
		return
	}
	k.actionIDs = map[string]bool{}
	k.object(obj, path, s)
}

func newKit(where surface) *kit {
	return &kit{surface: where, blockIDs: map[string]bool{}, actionIDs: map[string]bool{}}
}

// checkBlocks returns Slack's messages for every problem in a message's blocks.
func checkBlocks(blocks []any) []string {
	k := newKit(inMessage)
	k.blocks(blocks, "/blocks")
	return k.problems
}

var viewShape = shape{
	props: map[string]prop{
		"title": plainText(24), "close": plainText(24), "submit": plainText(24),
		"blocks":           func(k *kit, v any, path string) { k.blocks(v, path) },
		"private_metadata": str(0, 3000), "callback_id": str(0, 255), "external_id": str(1, 255),
		"clear_on_close": boolean, "notify_on_close": boolean, "submit_disabled": boolean,
	},
	required: []string{"title", "blocks"},
	extra: func(k *kit, view map[string]any, path string) {
		if view["type"] != "modal" {
			k.fail(path+"/type", "must be one of: [modal]")
		}
		if _, ok := view["submit"]; !ok && hasInputBlock(view) {
			k.fail(path, "missing required field: submit")
		}
	},
}

// checkView returns Slack's messages for every problem in a modal view.
func checkView(view any) []string {
	k := newKit(inView)
	k.object(view, "/view", viewShape)
	return k.problems
}

func hasInputBlock(view map[string]any) bool {
	blocks, _ := view["blocks"].([]any)
	for _, b := range blocks {
		if obj, ok := b.(map[string]any); ok && obj["type"] == "input" {
			return true
		}
	}
	return false
}
