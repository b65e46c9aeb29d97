package fakeslack

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// inputKind says how an input element reports its value in view.state.values.
type inputKind struct {
	stateKey   string // "value", "selected_option", ...
	initialKey string // the element property that pre-fills it
	multi      bool   // the person may give several, separated by commas
	resolve    func(s *Server, element map[string]any, typed string) (any, error)
}

var inputKinds = map[string]inputKind{
	"plain_text_input":     {"value", "initial_value", false, asTyped},
	"email_text_input":     {"value", "initial_value", false, asTyped},
	"url_text_input":       {"value", "initial_value", false, asTyped},
	"number_input":         {"value", "initial_value", false, asTyped},
	"static_select":        {"selected_option", "initial_option", false, optionNamed},
	"radio_buttons":        {"selected_option", "initial_option", false, optionNamed},
	"multi_static_select":  {"selected_options", "initial_options", true, optionNamed},
	"checkboxes":           {"selected_options", "initial_options", true, optionNamed},
	"users_select":         {"selected_user", "initial_user", false, userNamed},
	"multi_users_select":   {"selected_users", "initial_users", true, userNamed},
	"conversations_select": {"selected_conversation", "initial_conversation", false, channelNamed},
	"channels_select":      {"selected_channel", "initial_channel", false, channelNamed},
	"datepicker":           {"selected_date", "initial_date", false, dateTyped},
	"timepicker":           {"selected_time", "initial_time", false, asTyped},
}

// inputField is an input block of a modal.
type inputField struct {
	blockID, actionID, label string
	optional                 bool
	element                  map[string]any
}

func (f inputField) namedBy(key string) bool {
	return key == f.blockID || key == f.actionID || strings.EqualFold(key, f.label)
}

func inputFields(v *view) []inputField {
	var fields []inputField
	blocks, _ := v.spec["blocks"].([]any)
	for _, b := range blocks {
		block, _ := b.(map[string]any)
		if block["type"] != "input" {
			continue
		}
		f := inputField{label: textOf(block["label"])}
		f.element, _ = block["element"].(map[string]any)
		f.blockID, _ = block["block_id"].(string)
		f.actionID, _ = f.element["action_id"].(string)
		f.optional, _ = block["optional"].(bool)
		fields = append(fields, f)
	}
	return fields
}

// fillState builds view.state.values for a submission. Each input takes the value given under its
// block_id, action_id or label, else what the person entered before, else its initial value.
// Callers hold s.mu.
func (s *Server) fillState(v *view, given map[string]string) (map[string]map[string]any, error) {
	fields := inputFields(v)
	for _, key := range slices.Sorted(maps.Keys(given)) {
		if !slices.ContainsFunc(fields, func(f inputField) bool { return f.namedBy(key) }) {
			var labels []string
			for _, f := range fields {
				labels = append(labels, fmt.Sprintf("%q", f.label))
			}
			return nil, fmt.Errorf("the modal has no field %q (fields: %s)", key, strings.Join(labels, ", "))
		}
	}
	state := map[string]map[string]any{}
	for _, f := range fields {
		typed, named := "", false
		for key, value := range given {
			if f.namedBy(key) {
				typed, named = value, true
			}
		}
		entry, err := s.inputValue(f.element, typed, named)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.label, err)
		}
		if previous, ok := v.values[f.blockID][f.actionID].(map[string]any); ok && !named && !isEmptyInput(previous) {
			entry = previous
		}
		if entry == nil && !f.optional {
			return nil, fmt.Errorf("field %q is required", f.label)
		}
		if entry == nil {
			entry = emptyInput(f.element)
		}
		state[f.blockID] = map[string]any{f.actionID: entry}
	}
	return state, nil
}

// inputValue is one element's state entry, or nil when it is left empty.
func (s *Server) inputValue(element map[string]any, typed string, named bool) (map[string]any, error) {
	kind, _ := element["type"].(string)
	spec, ok := inputKinds[kind]
	if !ok {
		return nil, fmt.Errorf("cannot fill a %s", kind)
	}
	if !named {
		initial, ok := element[spec.initialKey]
		if !ok || initial == "" {
			return nil, nil
		}
		return map[string]any{"type": kind, spec.stateKey: initial}, nil
	}
	if strings.TrimSpace(typed) == "" {
		return nil, nil
	}
	if !spec.multi {
		value, err := spec.resolve(s, element, strings.TrimSpace(typed))
		return map[string]any{"type": kind, spec.stateKey: value}, err
	}
	var values []any
	for _, part := range strings.Split(typed, ",") {
		value, err := spec.resolve(s, element, strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		values = append(values, value)
	}
	return map[string]any{"type": kind, spec.stateKey: values}, nil
}

func isEmptyInput(entry map[string]any) bool {
	for key, v := range entry {
		if key != "type" && v != nil && !reflect.DeepEqual(v, []any{}) {
			return false
		}
	}
	return true
}

// emptyInput is what Slack reports for an optional field left empty.
func emptyInput(element map[string]any) map[string]any {
	kind, _ := element["type"].(string)
	spec := inputKinds[kind]
	var empty any
	if spec.multi {
		empty = []any{}
	}
	return map[string]any{"type": kind, spec.stateKey: empty}
}

func asTyped(_ *Server, _ map[string]any, typed string) (any, error) { return typed, nil }

func dateTyped(_ *Server, _ map[string]any, typed string) (any, error) {
	if _, err := time.Parse(time.DateOnly, typed); err != nil {
		return nil, fmt.Errorf("%q is not a date (YYYY-MM-DD)", typed)
	}
	return typed, nil
}

// optionNamed finds the option whose value or text is typed.
func optionNamed(_ *Server, element map[string]any, typed string) (any, error) {
	options, _ := element["options"].([]any)
	groups, _ := element["option_groups"].([]any)
	for _, g := range groups {
		group, _ := g.(map[string]any)
		more, _ := group["options"].([]any)
		options = append(options, more...)
	}
	var names []string
	for _, o := range options {
		opt, _ := o.(map[string]any)
		if opt["value"] == typed || strings.EqualFold(textOf(opt["text"]), typed) {
			return opt, nil
		}
		names = append(names, fmt.Sprintf("%q", textOf(opt["text"])))
	}
	return nil, fmt.Errorf("no option %q (options: %s)", typed, strings.Join(names, ", "))
}

func userNamed(s *Server, _ map[string]any, typed string) (any, error) {
	name := strings.TrimPrefix(typed, "@")
	for _, u := range s.users {
		if u.id == typed || u.name == name {
			return u.id, nil
		}
	}
	return nil, fmt.Errorf("no user %q", typed)
}

func channelNamed(s *Server, _ map[string]any, typed string) (any, error) {
	ch, err := s.channelArg(typed, true)
	if err != nil {
		return nil, fmt.Errorf("no channel %q", typed)
	}
	return ch.id, nil
}
