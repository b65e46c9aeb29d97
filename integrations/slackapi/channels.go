package slackapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// ErrNotFound is wrapped by lookups that found nothing (no user with an email, no message).
var ErrNotFound = errors.New("not found in Slack")

// Channel is a Slack channel as the incident flow knows it.
type Channel struct {
	ID   string
	Name string
}

// CreateChannel creates a public channel named name, with the bot as its first member. A
// channel of that name that exists already is returned instead (Slack answers name_taken), so
// a step that created the channel before a crash finds it again.
func (c *Client) CreateChannel(ctx context.Context, name string) (Channel, error) {
	ch, err := c.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: name})
	if err == nil {
		return Channel{ID: ch.ID, Name: ch.Name}, nil
	}
	if !hasCode(err, "name_taken") {
		return Channel{}, fmt.Errorf("creating channel #%s: %w", name, err)
	}
	existing, found, err := c.FindChannel(ctx, name)
	switch {
	case err != nil:
		return Channel{}, err
	case !found:
		return Channel{}, fmt.Errorf("creating channel #%s: the name is taken, but by no channel the bot can see", name)
	}
	return existing, nil
}

// FindChannel looks for the public channel named name.
func (c *Client) FindChannel(ctx context.Context, name string) (Channel, bool, error) {
	params := &slack.GetConversationsParameters{Types: []string{"public_channel"}, Limit: 1000}
	for {
		channels, next, err := c.api.GetConversationsContext(ctx, params)
		if err != nil {
			return Channel{}, false, fmt.Errorf("looking for channel #%s: %w", name, err)
		}
		if i := slices.IndexFunc(channels, func(ch slack.Channel) bool { return ch.Name == name }); i >= 0 {
			return Channel{ID: channels[i].ID, Name: channels[i].Name}, true, nil
		}
		if next == "" {
			return Channel{}, false, nil
		}
		params.Cursor = next
	}
}

// SetTopic sets a channel's topic.
func (c *Client) SetTopic(ctx context.Context, channelID, topic string) error {
	if _, err := c.api.SetTopicOfConversationContext(ctx, channelID, topic); err != nil {
		return fmt.Errorf("setting the topic of %s: %w", channelID, err)
	}
	return nil
}

// Invite adds people to a channel the bot is in. Someone who is in it already is no problem.
func (c *Client) Invite(ctx context.Context, channelID string, userIDs ...string) error {
	// One at a time: Slack refuses a whole list when one of them is in the channel already.
	for _, id := range userIDs {
		if _, err := c.api.InviteUsersToConversationContext(ctx, channelID, id); err != nil && !hasCode(err, "already_in_channel") {
			return fmt.Errorf("inviting %s to %s: %w", id, channelID, err)
		}
	}
	return nil
}

// Pin pins the message at ts in a channel, unless it is pinned already.
func (c *Client) Pin(ctx context.Context, channelID, ts string) error {
	if err := c.api.AddPinContext(ctx, channelID, slack.NewRefToMessage(channelID, ts)); err != nil && !hasCode(err, "already_pinned") {
		return fmt.Errorf("pinning message %s in %s: %w", ts, channelID, err)
	}
	return nil
}

// UserByEmail returns the ID of the Slack user with the email, or an error wrapping ErrNotFound.
func (c *Client) UserByEmail(ctx context.Context, email string) (string, error) {
	u, err := c.api.GetUserByEmailContext(ctx, email)
	if hasCode(err, "users_not_found") {
		return "", fmt.Errorf("looking up the Slack user %s: %w", email, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("looking up the Slack user %s: %w", email, err)
	}
	return u.ID, nil
}

// User is a person of the workspace.
type User struct {
	ID    string
	Name  string // the handle people type after @
	Email string // "" when Slack does not share it, as for bots
}

// User reads a person's handle and email.
func (c *Client) User(ctx context.Context, userID string) (User, error) {
	u, err := c.api.GetUserInfoContext(ctx, userID)
	if err != nil {
		return User{}, fmt.Errorf("reading Slack user %s: %w", userID, err)
	}
	return User{ID: u.ID, Name: u.Name, Email: u.Profile.Email}, nil
}

// GroupMembers lists the members of a user group.
func (c *Client) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	ids, err := c.api.GetUserGroupMembersContext(ctx, groupID)
	if err != nil {
		return nil, fmt.Errorf("reading the members of user group %s: %w", groupID, err)
	}
	return ids, nil
}

// Message is a message as a person posted it.
type Message struct {
	TS   string
	User string // author's user ID ("" for a bot's post)
	Text string
	At   time.Time // when it was posted, from its ts
}

// Message returns the message at ts in a channel, a thread reply included, or an error wrapping
// ErrNotFound.
func (c *Client) Message(ctx context.Context, channelID, ts string) (Message, error) {
	msgs, _, _, err := c.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
		ChannelID: channelID, Timestamp: ts, Oldest: ts, Latest: ts, Inclusive: true,
	})
	if hasCode(err, "thread_not_found") || hasCode(err, "message_not_found") {
		return Message{}, fmt.Errorf("reading message %s in %s: %w", ts, channelID, ErrNotFound)
	}
	if err != nil {
		return Message{}, fmt.Errorf("reading message %s in %s: %w", ts, channelID, err)
	}
	// The thread's parent always comes first, whatever the window; the message is the one with ts.
	i := slices.IndexFunc(msgs, func(m slack.Message) bool { return m.Timestamp == ts })
	if i < 0 {
		return Message{}, fmt.Errorf("reading message %s in %s: %w", ts, channelID, ErrNotFound)
	}
	at, _ := TSTime(ts)
	return Message{TS: ts, User: msgs[i].User, Text: msgs[i].Text, At: at}, nil
}

// Self returns the bot's own user ID, asked of Slack once.
func (c *Client) Self(ctx context.Context) (string, error) {
	c.mu.Lock()
	self := c.self
	c.mu.Unlock()
	if self != "" {
		return self, nil
	}
	resp, err := c.api.AuthTestContext(ctx)
	if err != nil {
		return "", fmt.Errorf("asking Slack who the bot is: %w", err)
	}
	c.mu.Lock()
	c.self = resp.UserID
	c.mu.Unlock()
	return resp.UserID, nil
}

// TSTime reads a Slack message timestamp ("1732570000.000100") as the time it was posted.
func TSTime(ts string) (time.Time, error) {
	secs, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading Slack timestamp %q: %w", ts, err)
	}
	micros := int64(0)
	if frac != "" {
		if micros, err = strconv.ParseInt((frac + "000000")[:6], 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("reading Slack timestamp %q: %w", ts, err)
		}
	}
	return time.Unix(s, micros*1000).UTC(), nil
}

// RetryAfter reports whether a failed call may succeed later, and how long Slack asked to wait
// (0 when it did not say): rate limits, Slack's own failures and calls that got no answer.
// Anything Slack refused by name (channel_not_found, missing_scope, …) fails the same way again.
func RetryAfter(err error) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return 0, sc.Code >= http.StatusInternalServerError || sc.Code == http.StatusRequestTimeout
	}
	var sr slack.SlackErrorResponse
	if errors.As(err, &sr) {
		switch sr.Err {
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
			return 0, true
		}
		return 0, false
	}
	// No answer from Slack at all (a timeout, a reset): trying again may work.
	return 0, err != nil && !errors.Is(err, context.Canceled)
}

// hasCode reports whether Slack refused a call with the error code.
func hasCode(err error, code string) bool {
	var sr slack.SlackErrorResponse
	return errors.As(err, &sr) && sr.Err == code
}
