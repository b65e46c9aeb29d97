package fakeslack

import (
	"regexp"
	"strings"
)

// mention matches what a person types to mention someone: "@alice", "@deployers", "@here",
// "#deploys", at the start of the text or after a space or bracket.
var mention = regexp.MustCompile(`(^|[\s(\[])([@#])([a-z0-9][a-z0-9._-]*)`)

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// mentionStyle is how a Slack client encodes a mention: slash commands configured with
// should_escape get "<@U0ALICE|alice>", messages get "<@U0ALICE>".
type mentionStyle int

const (
	commandStyle mentionStyle = iota
	messageStyle
)

// encodeMentions turns typed text into what Slack sends an app: &, < and > escaped, and mentions of
// known people, groups, channels and @channel/@here/@everyone turned into Slack's link syntax.
// Callers hold s.mu.
func (s *Server) encodeMentions(text string, style mentionStyle) string {
	text = htmlEscaper.Replace(text)
	return mention.ReplaceAllStringFunc(text, func(match string) string {
		sub := mention.FindStringSubmatch(match)
		before, sigil, name := sub[1], sub[2], sub[3]
		trailing := ""
		for { // "@alice." ends a sentence; the dot is not part of the name
			if link, ok := s.link(sigil, name, style); ok {
				return before + link + trailing
			}
			trimmed := strings.TrimRight(name, "._-")
			if trimmed == name || trimmed == "" {
				return match
			}
			trailing, name = name[len(trimmed):]+trailing, trimmed
		}
	})
}

// link returns Slack's encoding of a mention of name, if name is known.
func (s *Server) link(sigil, name string, style mentionStyle) (string, bool) {
	withLabel := func(open, id, label string) string {
		if style == commandStyle {
			return "<" + open + id + "|" + label + ">"
		}
		return "<" + open + id + ">"
	}
	if sigil == "#" {
		for _, ch := range s.channels {
			if ch.name == name {
				return withLabel("#", ch.id, name), true
			}
		}
		return "", false
	}
	switch name {
	case "channel", "here", "everyone":
		return "<!" + name + ">", true
	}
	for _, u := range s.users {
		if u.name == name {
			return withLabel("@", u.id, name), true
		}
	}
	for _, g := range s.groups {
		if g.handle == name {
			return withLabel("!subteam^", g.id, "@"+name), true
		}
	}
	return "", false
}
