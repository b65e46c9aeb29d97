// Package chat holds what the application says back to people, independent of how it is
// delivered: a Message (fallback text plus Block Kit), a Refusal (an ephemeral "no, because…"),
// and the small text helpers every card uses so that states read the same everywhere.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/store"
)

// Message is something to show in Slack: Text is the fallback (notifications, screen readers)
// and the whole message when Blocks is empty.
type Message struct {
	Text   string
	Blocks []slack.Block
	// Channel is where an ephemeral reply goes when the person acted outside any channel
	// (a modal); replies to commands and clicks go where the person acted.
	Channel string
}

// Text returns a message of plain mrkdwn text.
func Text(format string, args ...any) Message {
	return Message{Text: fmt.Sprintf(format, args...)}
}

// Empty reports whether there is nothing to say.
func (m Message) Empty() bool { return m.Text == "" && len(m.Blocks) == 0 }

// BlocksJSON encodes the blocks for the outbox (nil when there are none).
func (m Message) BlocksJSON() (json.RawMessage, error) {
	if len(m.Blocks) == 0 {
		return nil, nil
	}
	data, err := json.Marshal(m.Blocks)
	if err != nil {
		return nil, fmt.Errorf("encoding blocks: %w", err)
	}
	return data, nil
}

// Refusal is a domain's "no": the person may not do this, or it cannot be done now. The reason
// is shown to them alone and recorded in the audit log as refused.
type Refusal struct {
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

// Refuse returns a *Refusal with a formatted reason.
func Refuse(format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// AsRefusal returns the refusal inside err, if there is one.
func AsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

// StepEvidence is the evidence of a checklist item that a step proves: once the step has
// passed, what it found ticks the item; before, it says nothing. R is the domain's record,
// which the checklists' other evidence functions read.
func StepEvidence[R any](name string) func(store.Run, R) string {
	return func(run store.Run, _ R) string {
		if st := run.StepByName(name); st != nil && st.State == store.StepPassed {
			return st.Detail
		}
		return ""
	}
}

// StepIcon is the symbol the cards use for a step (UX.md): ✅ passed · ⏳ waiting on time ·
// ⏸ waiting on a person · 🔄 running, or an outside system at work · ❌ failed, or blocked until
// fixed · ⏭ skipped · `·` not started.
func StepIcon(s store.Step) string {
	switch s.State {
	case store.StepPassed:
		return "✅"
	case store.StepFailed:
		return "❌"
	case store.StepSkipped:
		return "⏭"
	case store.StepRunning:
		return "🔄"
	case store.StepWaiting:
		switch s.Wait {
		case store.WaitPerson:
			return "⏸"
		case store.WaitSystem:
			return "🔄"
		case store.WaitBlocked:
			return "❌"
		}
		return "⏳"
	}
	return "·"
}

// Escape makes text safe inside mrkdwn: Slack's three control characters are escaped, so user
// text can neither open a link nor mention anyone.
func Escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// User mentions a Slack user.
func User(id string) string { return "<@" + id + ">" }

// Link is a mrkdwn link.
func Link(url, label string) string { return "<" + url + "|" + Escape(label) + ">" }

// Actor is the person behind a command or a click.
type Actor struct {
	UserID    string
	UserName  string
	ChannelID string // where they acted
	// TriggerID lets a domain open a modal for the person: Slack honours it for 3 s after
	// their command or click.
	TriggerID string
}
