// Package slackapi is opsbot's typed access to the Slack Web API for everything except posting
// messages (the bot's outbox does that): who is in a user group (authorisation), modals, and
// the incident channel's lifecycle. It wraps slack-go; it never talks to Slack before the
// envelope that caused the call has been acknowledged, because its callers run after the ack.
package slackapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/clock"
)

// Client is the Slack Web API with a short-lived cache of user-group membership.
type Client struct {
	api      *slack.Client
	clock    clock.Clock
	groupTTL time.Duration

	mu     sync.Mutex
	groups map[string]cachedGroup
	self   string // the bot's user ID, once asked
}

type cachedGroup struct {
	members map[string]bool
	fetched time.Time
}

// New wraps a slack-go client. groupTTL is how long a user group's membership is trusted before
// it is read again (a person removed from a group loses the role within that time).
func New(api *slack.Client, clk clock.Clock, groupTTL time.Duration) *Client {
	return &Client{api: api, clock: clk, groupTTL: groupTTL, groups: map[string]cachedGroup{}}
}

// InGroup reports whether user is a member of the user group.
func (c *Client) InGroup(ctx context.Context, groupID, userID string) (bool, error) {
	c.mu.Lock()
	g, ok := c.groups[groupID]
	c.mu.Unlock()
	if !ok || c.clock.Now().Sub(g.fetched) > c.groupTTL {
		ids, err := c.api.GetUserGroupMembersContext(ctx, groupID)
		if err != nil {
			return false, fmt.Errorf("reading the members of user group %s: %w", groupID, err)
		}
		g = cachedGroup{members: make(map[string]bool, len(ids)), fetched: c.clock.Now()}
		for _, id := range ids {
			g.members[id] = true
		}
		c.mu.Lock()
		c.groups[groupID] = g
		c.mu.Unlock()
	}
	return g.members[userID], nil
}

// spentTriggerErrors are Slack's answers to views.open with a trigger_id that cannot be used.
var spentTriggerErrors = []string{"invalid_trigger_id", "expired_trigger_id", "exchanged_trigger_id"}

// OpenModal opens a modal for the person whose action produced triggerID (valid for 3 s).
func (c *Client) OpenModal(ctx context.Context, triggerID string, view slack.ModalViewRequest) (string, error) {
	resp, err := c.api.OpenViewContext(ctx, triggerID, view)
	var slackErr slack.SlackErrorResponse
	if errors.As(err, &slackErr) && slices.Contains(spentTriggerErrors, slackErr.Err) {
		// The click reached the form too late (or twice): the person can press again.
		return "", chat.Refuse("Slack no longer lets me open that form (%s): press the button again.", slackErr.Err)
	}
	if err != nil {
		return "", fmt.Errorf("opening modal %q: %w", view.CallbackID, err)
	}
	return resp.ID, nil
}
