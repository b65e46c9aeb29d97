package incident

import (
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// channelRef links a Slack channel.
func channelRef(id string) string { return "<#" + id + ">" }

// groupRef mentions a user group, which notifies its members.
func groupRef(id string) string { return "<!subteam^" + id + ">" }

// slackMarkup is Slack's markup inside text: <@U…|name>, <#C…|name>, <!subteam^S…|@name>,
// <https://…|label>.
var slackMarkup = regexp.MustCompile(`<([^<>|]*)(?:\|([^<>]*))?>`)

// plainText turns Slack mrkdwn into the text a reader outside Slack should see (a status page,
// a PagerDuty title, a channel name): mentions become @name, links their address, entities
// their characters, and the zero-width space that keeps mentions inert goes.
func plainText(s string) string {
	s = slackMarkup.ReplaceAllStringFunc(s, func(tok string) string {
		m := slackMarkup.FindStringSubmatch(tok)
		target, label := m[1], m[2]
		switch {
		case label != "" && (strings.HasPrefix(target, "@") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "!")):
			return "@" + strings.TrimPrefix(strings.TrimPrefix(label, "@"), "#")
		case strings.HasPrefix(target, "@"), strings.HasPrefix(target, "!"):
			return "@" + strings.TrimLeft(target, "@!")
		case strings.HasPrefix(target, "#"):
			return target
		}
		return target
	})
	s = strings.ReplaceAll(s, "\u200b", "")
	return strings.TrimSpace(html.UnescapeString(s))
}

// clip shortens s to at most n runes, ending it with … when it was cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRightFunc(string(r[:n-1]), unicode.IsSpace) + "…"
}

// titleCase capitalises the first letter: "investigating" → "Investigating".
func titleCase(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}
