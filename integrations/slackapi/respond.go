package slackapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/slack-go/slack"
)

// Responder answers a slash command or a click through its response_url. It needs no store and
// no outbox, which makes it the one way left to tell a person something when the database is
// down: the bot has acked, and says it cannot start anything rather than saying nothing.
type Responder struct {
	http *http.Client
}

// NewResponder returns a Responder that posts with client.
func NewResponder(client *http.Client) *Responder { return &Responder{http: client} }

// RespondNow shows text to the person behind responseURL only.
func (r *Responder) RespondNow(ctx context.Context, responseURL, text string) error {
	msg := &slack.WebhookMessage{Text: text, ResponseType: slack.ResponseTypeEphemeral}
	if err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, r.http, msg); err != nil {
		return fmt.Errorf("answering through the response URL: %w", err)
	}
	return nil
}
