package commands

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// MentionMode says which mentions Sanitize leaves live.
type MentionMode int

const (
	// InertMentions shows every mention as plain text ("@bob"): nobody is notified.
	InertMentions MentionMode = iota
	// UserMentions keeps mentions of single people live, so they are notified. Mentions of many
	// people (@channel, @here, @everyone, user groups) stay inert.
	UserMentions
)

var (
	userIDPattern    = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)
	channelIDPattern = regexp.MustCompile(`^[CG][A-Z0-9]{2,20}$`)
)

// inertAt starts a mention rendered as text. The zero-width space after the @ keeps even a
// message posted with link_names=true from turning "@here" back into a notification.
const inertAt = "@\u200b"

// Sanitize makes text a person typed safe to put in a Slack message. The text is expected in
// Slack's format, as slash commands and events deliver it (&, < and > escaped as &amp; &lt;
// &gt;), but anything is accepted: a stray &, < or > is escaped.
//
//   - <!channel>, <!here>, <!everyone> and <!subteam^…|@group> become "@channel", "@here",
//     "@everyone", "@group" that notify nobody; so does such a word typed as plain text.
//   - <@U…> stays a live mention under UserMentions and becomes "@name" otherwise.
//   - Channel links stay (they notify nobody). Web links show their address, not their label,
//     so nobody is misled about where a link goes. A date shows its fallback text.
//   - Control and invisible formatting characters (NUL, escapes, bidirectional overrides) are
//     removed, except newlines and tabs; invalid UTF-8 becomes U+FFFD.
//
// Sanitize does not shorten text and leaves *bold*, _italic_ and `code` formatting alone.
func Sanitize(text string, mode MentionMode) string {
	// Invisible characters go first: inside "@he\x05re" one would hide the word from the
	// pass below, which would then leave a live "@here" behind once it dropped it. The
	// zero-width space stays for that pass: after an @ it is what makes a mention inert.
	text = strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && r != '\u200b' && isInvisibleControl(r) {
			return -1
		}
		return r
	}, text)
	var b strings.Builder
	b.Grow(len(text))
	sanitizeInto(&b, text, mode)
	// Markup can still join pieces into a broadcast ("@<!date^1^x|here>" shows "@" and then
	// its label "here"): whatever the pass left, no such word stays live.
	return broadcastWord.ReplaceAllString(b.String(), inertAt+"$1")
}

// broadcastWord finds a mention of many people that would notify them.
var broadcastWord = regexp.MustCompile(`(?i)@(channel|here|everyone)`)

func sanitizeInto(b *strings.Builder, text string, mode MentionMode) {
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '<':
			// Slack's markup runs to the next '>'; a '<' before it means this one is stray.
			if end := strings.IndexAny(text[i+1:], "<>"); end >= 0 && text[i+1+end] == '>' {
				writeMarkup(b, text[i+1:i+1+end], mode)
				i += end + 2
				continue
			}
			b.WriteString("&lt;")
		case c == '>':
			b.WriteString("&gt;")
		case c == '&':
			if entity := slackEntity(text[i:]); entity != "" {
				b.WriteString(entity)
				i += len(entity)
				continue
			}
			b.WriteString("&amp;")
		case c == '@':
			after := text[i+1:]
			if rest, ok := strings.CutPrefix(after, inertAt[1:]); ok {
				// Already inert, e.g. sanitized before: keep it so, whatever follows.
				b.WriteString(inertAt)
				i = len(text) - len(rest)
				continue
			}
			b.WriteByte('@')
			if startsWithBroadcast(after) {
				b.WriteString(inertAt[1:])
			}
		default:
			r, size := utf8.DecodeRuneInString(text[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				b.WriteRune(utf8.RuneError)
			case r == '\n' || r == '\t' || !isInvisibleControl(r):
				b.WriteString(text[i : i+size])
			}
			i += size
			continue
		}
		i++
	}
}

// writeMarkup renders the inside of one <…> of Slack's markup.
func writeMarkup(b *strings.Builder, markup string, mode MentionMode) {
	target, label, _ := strings.Cut(markup, "|")
	switch {
	case strings.HasPrefix(target, "@") && userIDPattern.MatchString(target[1:]):
		if mode == UserMentions {
			b.WriteString(mention(target[1:]))
			return
		}
		if label == "" {
			label = target[1:]
		}
		b.WriteString(inertAt)
		sanitizeInto(b, strings.TrimPrefix(label, "@"), mode)
	case strings.HasPrefix(target, "#") && channelIDPattern.MatchString(target[1:]):
		b.WriteString("<" + target + ">")
	case strings.HasPrefix(target, "!date^"):
		sanitizeInto(b, label, mode)
	case strings.HasPrefix(target, "!"):
		// <!channel>, <!here>, <!everyone>, <!subteam^ID|@name>: label or keyword, inert.
		if label == "" {
			label, _, _ = strings.Cut(target[1:], "^")
		}
		b.WriteString(inertAt)
		sanitizeInto(b, strings.TrimPrefix(label, "@"), mode)
	case isWebAddress(target):
		sanitizeInto(b, target, mode)
	default:
		b.WriteString("&lt;")
		sanitizeInto(b, markup, mode)
		b.WriteString("&gt;")
	}
}

// slackEntity returns the escape Slack uses for &, < or > at the start of s, or "".
func slackEntity(s string) string {
	for _, entity := range []string{"&amp;", "&lt;", "&gt;"} {
		if strings.HasPrefix(s, entity) {
			return entity
		}
	}
	return ""
}

// startsWithBroadcast reports whether s, the text after an @, is a word Slack would turn into a
// notification of many people when a message is posted with link_names. Invisible characters
// are skipped because Sanitize removes them, which would otherwise join "@", "\u200b" and "here"
// back together on a second pass.
func startsWithBroadcast(s string) bool {
	s = strings.TrimLeftFunc(s, isInvisibleControl)
	for _, word := range []string{"channel", "here", "everyone"} {
		if len(s) >= len(word) && asciiLower(s[:len(word)]) == word {
			return true
		}
	}
	return false
}

func isWebAddress(s string) bool {
	s = asciiLower(s)
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "mailto:")
}

// quoteChars is how much of an offending piece a usage error quotes.
const quoteChars = 40

// quote shows a piece of user input inside a one-line message: shortened, inert, without line
// breaks, and with backticks replaced so it cannot open or close code formatting around it.
func quote(s string) string {
	if exceedsChars(s, quoteChars) {
		cut, n := 0, 0
		for cut = range s {
			if n == quoteChars {
				break
			}
			n++
		}
		s = s[:cut] + "…"
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\n', '\t':
			return ' '
		case '`':
			return 'ˋ'
		}
		return r
	}, Sanitize(s, InertMentions))
	return `"` + s + `"`
}
