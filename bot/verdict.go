package bot

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/slack-go/slack"
)

// verdict is what the outbox does after a failed Slack write: try again after a while, or
// give the message up because Slack will never take it. The classification lives here, with
// the vendor, as Alertmanager's notifiers do it; the worker only obeys it.
type verdict struct {
	retry bool
	after time.Duration
	// rateLimited means Slack said 429: the pacer holds back the method until after.
	rateLimited bool
}

// refusedForGood are the Slack error codes that no retry can fix: the message, the channel or
// the permissions are wrong. Everything else (5xx, timeouts, resets, internal_error,
// fatal_error, service_unavailable, invalid_auth during a token rotation) is retried.
var refusedForGood = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "msg_too_long": true,
	"no_text": true, "invalid_blocks": true, "invalid_blocks_format": true, "invalid_arguments": true,
	"message_not_found": true, "cant_update_message": true, "edit_window_closed": true,
	"user_not_in_channel": true, "user_not_found": true, "missing_scope": true, "restricted_action": true,
	"too_many_attachments": true, "invalid_metadata_format": true, "invalid_metadata_schema": true,
	"metadata_too_large": true,
}

// classify decides what to do after err on the message's attempt-th try.
func classify(err error, attempt int) verdict {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		after := rl.RetryAfter
		if after <= 0 {
			after = time.Second
		}
		return verdict{retry: true, after: after, rateLimited: true}
	}
	var sr slack.SlackErrorResponse
	if errors.As(err, &sr) && refusedForGood[sr.Err] {
		return verdict{retry: false}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code >= 400 && sc.Code < 500 && sc.Code != http.StatusRequestTimeout {
		return verdict{retry: false}
	}
	return verdict{retry: true, after: backoff(attempt)}
}

// backoff is exponential from 1 s, capped at 5 min, with ±20 % jitter so that replicas that
// failed together do not retry together.
func backoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 9)
	d = min(d, 5*time.Minute)
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}
