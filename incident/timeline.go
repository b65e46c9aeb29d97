package incident

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strings"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/integrations/slackapi"
	"github.com/opsbot-dev/opsbot/store"
)

// timeline adds an event to the incident's timeline; its key records it once however often
// the step or command that adds it runs. A failure is logged and does not stop the incident:
// the timeline is the record of the response, not part of it.
func (s *Service) timeline(ctx context.Context, runID int64, ev store.RunEvent) {
	ev.RunID = runID
	if _, _, err := s.opts.Store.AppendRunEvent(ctx, ev); err != nil {
		s.log.Error().Err(err).Int64("run", runID).Str("key", ev.Key).Msg("adding to the incident timeline failed")
	}
}

// postEntry shows an entry (an update, a severity change, the resolution) in the incident's
// channel, adds it to the timeline as ev — at the entry's time, by its author, keyed by the
// entry unless ev has a key of its own — and wakes the runner to carry it further.
func (s *Service) postEntry(ctx context.Context, run store.Run, d record, e entry, ev store.RunEvent) error {
	key := fmt.Sprintf("entry:%d", e.Seq)
	if err := s.post(ctx, run, d.ChannelID, key, renderEntry(d, e)); err != nil {
		return err
	}
	ev.At, ev.Actor = e.At, e.By
	if ev.Key == "" {
		ev.Key = key
	}
	s.timeline(ctx, run.ID, ev)
	s.opts.Wake()
	return nil
}

// Mark is a message someone marked as part of the record in a channel: pinned (pin_added) or
// given a :pushpin: reaction (reaction_added).
type Mark struct {
	ChannelID string
	TS        string // the message's ts
	By        string // who marked it
}

// RecordMark adds a marked message to the timeline of the channel's incident, at the time the
// message was posted, once however often it is pinned or reacted to. Marks outside incident
// channels, and the bot's own pins of its cards, are no part of any timeline.
func (s *Service) RecordMark(ctx context.Context, m Mark) error {
	self, err := s.opts.Slack.Self(ctx)
	if err != nil {
		return err
	}
	if m.By == self {
		return nil
	}
	runID, err := s.InChannel(ctx, m.ChannelID)
	if _, refused := chat.AsRefusal(err); refused {
		return nil
	}
	if err != nil {
		return err
	}
	msg, err := s.opts.Slack.Message(ctx, m.ChannelID, m.TS)
	if errors.Is(err, slackapi.ErrNotFound) {
		return nil // deleted since
	}
	if err != nil {
		return err
	}
	text, err := s.inertMentions(ctx, msg.Text)
	if err != nil {
		return err
	}
	if msg.User != "" {
		text += " — " + chat.User(msg.User)
	}
	_, _, err = s.opts.Store.AppendRunEvent(ctx, store.RunEvent{
		RunID: runID, At: msg.At, Kind: "pin", Actor: m.By, Key: "pin:" + m.TS,
		Text: fmt.Sprintf("📌 %s (marked by %s)", text, chat.User(m.By)),
	})
	if err != nil {
		return fmt.Errorf("adding a pinned message to incident %d's timeline: %w", runID, err)
	}
	return nil
}

// inertMentions makes a message people wrote safe to quote: its mentions show the person's
// handle but notify nobody again, and nothing else in it is markup.
func (s *Service) inertMentions(ctx context.Context, raw string) (string, error) {
	var b strings.Builder
	last := 0
	for _, m := range userMention.FindAllStringSubmatchIndex(raw, -1) {
		b.WriteString(chat.Escape(html.UnescapeString(raw[last:m[0]])))
		u, err := s.opts.Slack.User(ctx, raw[m[2]:m[3]])
		if err != nil {
			return "", err
		}
		b.WriteString("@\u200b" + chat.Escape(u.Name))
		last = m[1]
	}
	b.WriteString(chat.Escape(html.UnescapeString(raw[last:])))
	return clip(b.String(), 300), nil
}

// renderTimeline lists the incident's timeline for Slack, oldest first.
func renderTimeline(d record, events []store.RunEvent) string {
	lines := []string{fmt.Sprintf("%s🕒 *Timeline* of %s", drillMark(d), incidentName(d))}
	for _, ev := range events {
		lines = append(lines, fmt.Sprintf("• %s — %s", chat.Time(ev.At), ev.Text))
	}
	return clip(strings.Join(lines, "\n"), 3000)
}
