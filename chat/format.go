package chat

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/store"
)

// Mrkdwn is a Block Kit mrkdwn text object.
func Mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// Plain is a Block Kit plain_text object.
func Plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// Date renders a date and time in each reader's own time zone, with a UTC fallback.
func Date(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("Jan 2 15:04 UTC"))
}

// Time renders a time of day in each reader's own time zone, with a UTC fallback.
func Time(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{time}|%s>", t.Unix(), t.UTC().Format("15:04 UTC"))
}

// Duration is a duration as people say it: "25 h", "5 h 30 min", "12 min", "40 s".
func Duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 10*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
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

// Truncate shortens s to n characters, ending it with an ellipsis when it was longer.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// StepLines lists a run's steps for its card, one line each with its symbol and detail; the
// steps not started yet share one last line, as they say nothing yet.
func StepLines(steps []store.Step, titles map[string]string) string {
	var lines, later []string
	for _, st := range steps {
		title := titles[st.Name]
		if st.State == store.StepPending {
			later = append(later, title)
			continue
		}
		line := fmt.Sprintf("%s *%s*", StepIcon(st), title)
		if st.Detail != "" {
			line += " — " + st.Detail
		}
		lines = append(lines, line)
	}
	if len(later) > 0 {
		lines = append(lines, "· "+strings.Join(later, " · "))
	}
	return strings.Join(lines, "\n")
}

// Queue puts msg into the outbox as m, which names its key, channel, thread and whether it is
// an upsert; Op defaults to a post. The outbox delivers it to Slack.
func Queue(ctx context.Context, st store.Store, m store.OutboxMessage, msg Message, now time.Time) error {
	m, err := Compose(m, msg, now)
	if err != nil {
		return err
	}
	if _, err := st.Enqueue(ctx, m); err != nil {
		return fmt.Errorf("queueing %s: %w", m.Key, err)
	}
	return nil
}

// QueueAll puts msg in the outbox once for each of ms, in one store transaction.
func QueueAll(ctx context.Context, st store.Store, ms []store.OutboxMessage, msg Message, now time.Time) error {
	composed := make([]store.OutboxMessage, len(ms))
	for i, m := range ms {
		var err error
		if composed[i], err = Compose(m, msg, now); err != nil {
			return err
		}
	}
	if err := st.EnqueueAll(ctx, composed...); err != nil {
		return fmt.Errorf("queueing %d messages: %w", len(ms), err)
	}
	return nil
}

// Compose fills the outbox message m with msg's text and blocks, due at now, for Queue or for a
// caller that writes it together with other records (store.FinishDelivery).
func Compose(m store.OutboxMessage, msg Message, now time.Time) (store.OutboxMessage, error) {
	blocks, err := msg.BlocksJSON()
	if err != nil {
		return store.OutboxMessage{}, fmt.Errorf("composing %s: %w", m.Key, err)
	}
	if m.Op == "" {
		m.Op = store.OpPost
	}
	m.Text, m.Blocks, m.NextAt = msg.Text, blocks, now
	return m, nil
}
