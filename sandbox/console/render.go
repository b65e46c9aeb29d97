package console

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
)

// names turns Slack IDs into what a person reads.
type names struct {
	users    map[string]string // U… → alice
	groups   map[string]string // S… → product-owners
	channels func(id string) string
}

// mention forms Slack writes inside text: <@U…>, <@U…|name>, <#C…|name>, <!subteam^S…>,
// <!date^…|fallback>, <!channel>, <https://…|label>.
var slackToken = regexp.MustCompile(`<([^<>]*)>`)

// text renders mrkdwn as a terminal shows it.
func (n names) text(s string) string {
	s = slackToken.ReplaceAllStringFunc(s, func(tok string) string {
		inner := tok[1 : len(tok)-1]
		target, label, hasLabel := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "@"):
			if name, ok := n.users[target[1:]]; ok {
				return "@" + name
			}
			if hasLabel {
				return "@" + label
			}
			return "@" + target[1:]
		case strings.HasPrefix(target, "#"):
			if hasLabel {
				return "#" + label
			}
			return "#" + n.channels(target[1:])
		case strings.HasPrefix(target, "!subteam^"):
			if name, ok := n.groups[strings.TrimPrefix(target, "!subteam^")]; ok {
				return "@" + name
			}
			return "@" + strings.TrimPrefix(label, "@")
		case strings.HasPrefix(target, "!date^"):
			return label
		case strings.HasPrefix(target, "!"):
			return "@" + target[1:]
		case hasLabel:
			return label
		}
		return target
	})
	return html.UnescapeString(s)
}

// block is the part of Block Kit a terminal shows.
type block struct {
	Type      string       `json:"type"`
	BlockID   string       `json:"block_id"`
	Text      *textObject  `json:"text"`
	Fields    []textObject `json:"fields"`
	Accessory *element     `json:"accessory"`
	Elements  []element    `json:"elements"`
	Label     *textObject  `json:"label"`
	Element   *element     `json:"element"`
	Optional  bool         `json:"optional"`
}

type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// element is a block element: a button (whose text is a text object) or, in a context block,
// a text object itself (whose text is a string).
type element struct {
	Type    string          `json:"type"`
	RawText json.RawMessage `json:"text"`
	Options []struct {
		Text  textObject `json:"text"`
		Value string     `json:"value"`
	} `json:"options"`
}

// label is the element's text: a button's label or a context element's text.
func (e element) label() (string, bool) {
	var s string
	if json.Unmarshal(e.RawText, &s) == nil {
		return s, true
	}
	var t textObject
	if json.Unmarshal(e.RawText, &t) == nil && t.Text != "" {
		return t.Text, true
	}
	return "", false
}

// blocks renders a message's blocks as lines; buttons appear as [Label].
func (n names) blocks(raw json.RawMessage) []string {
	var bs []block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return []string{"(unreadable blocks)"}
	}
	var lines []string
	for _, b := range bs {
		switch b.Type {
		case "header", "section":
			var parts []string
			if b.Text != nil {
				parts = append(parts, n.text(b.Text.Text))
			}
			for _, f := range b.Fields {
				parts = append(parts, n.text(f.Text))
			}
			line := strings.Join(parts, "\n")
			if b.Accessory != nil && b.Accessory.Type == "button" {
				if label, ok := b.Accessory.label(); ok {
					line += "  [" + label + "]"
				}
			}
			lines = append(lines, line)
		case "context":
			var parts []string
			for _, e := range b.Elements {
				if text, ok := e.label(); ok {
					parts = append(parts, n.text(text))
				}
			}
			lines = append(lines, strings.Join(parts, " · "))
		case "actions":
			var buttons []string
			for _, e := range b.Elements {
				if label, ok := e.label(); ok && e.Type == "button" {
					buttons = append(buttons, "["+label+"]")
				}
			}
			lines = append(lines, strings.Join(buttons, " "))
		case "divider":
			lines = append(lines, "────")
		case "input":
			label := b.BlockID
			if b.Label != nil {
				label = b.Label.Text
			}
			field := fmt.Sprintf("%s=…", b.BlockID)
			if b.Element != nil && len(b.Element.Options) > 0 {
				var opts []string
				for _, o := range b.Element.Options {
					opts = append(opts, o.Value)
				}
				field = fmt.Sprintf("%s=%s", b.BlockID, strings.Join(opts, "|"))
			}
			optional := ""
			if b.Optional {
				optional = " (optional)"
			}
			lines = append(lines, fmt.Sprintf("%s%s: %s", label, optional, field))
		}
	}
	return lines
}

// message renders a message's content: its blocks when it has some, else its text.
func (n names) message(text string, blocks json.RawMessage) string {
	if len(blocks) > 0 && string(blocks) != "null" {
		return strings.Join(n.blocks(blocks), "\n")
	}
	return n.text(text)
}
