package slackapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/slack-go/slack"
)

// Responder posts to the response_url of a slash command or a click. The outbox sends replies
// this way while the URL is fresh, unhurried by chat.postEphemeral's 100 a minute. It needs no
// store either, which makes it the one way left to tell a person something when the database
// is down: the bot has acked, and says it cannot start anything rather than saying nothing.
type Responder struct {
	http *http.Client
}

// NewResponder returns a Responder that posts with client.
func NewResponder(client *http.Client) *Responder { return &Responder{http: client} }

// Respond posts msg to responseURL. A response URL lets anyone post to the person, so the
// error never carries it.
func (r *Responder) Respond(ctx context.Context, responseURL string, msg *slack.WebhookMessage) error {
	err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, r.http, msg)
	if err == nil {
		return nil
	}
	if urlErr, ok := errors.AsType[*url.Error](err); ok {
		urlErr.URL = "(response URL)"
	}
	return fmt.Errorf("answering through the response URL: %w", err)
}

// RespondNow shows text to the person behind responseURL only.
func (r *Responder) RespondNow(ctx context.Context, responseURL, text string) error {
	return r.Respond(ctx, responseURL, &slack.WebhookMessage{Text: text, ResponseType: slack.ResponseTypeEphemeral})
}
