package incident

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"time"
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

// slackDate renders a date and time in each reader's own time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("Jan 2 15:04 UTC"))
}

// slackTime renders a time of day in each reader's own time zone, with a UTC fallback.
func slackTime(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{time}|%s>", t.Unix(), t.UTC().Format("15:04 UTC"))
}

// humanDuration is a duration as people say it: "2 h 5 min", "16 min", "40 s".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	case d >= time.Minute:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}
