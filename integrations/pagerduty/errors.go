package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// ErrNotFound is wrapped by the errors of lookups that found nothing, and matches an *Error
// for PagerDuty's 404 (errors.Is).
var ErrNotFound = errors.New("not found in PagerDuty")

// Error is a request PagerDuty refused, or one that got no usable answer.
type Error struct {
	// Op is what opsbot was doing, e.g. `resolving incident Q1`.
	Op string
	// Status is PagerDuty's HTTP status; 0 when no answer arrived or it could not be read.
	Status int
	// Message is PagerDuty's explanation, with its details.
	Message string

	retryAfter time.Duration
	err        error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: no usable answer from PagerDuty: %s", e.Op, e.Message)
	}
	return fmt.Sprintf("%s: PagerDuty answered %d: %s", e.Op, e.Status, e.Message)
}

// Unwrap returns go-pagerduty's error.
func (e *Error) Unwrap() error { return e.err }

// Is reports whether e is PagerDuty's 404, for errors.Is(err, ErrNotFound).
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Retryable reports whether the same request may succeed later: PagerDuty was unreachable,
// overloaded (5xx), slow (408) or rate limiting (429). Anything else PagerDuty refused will be
// refused again.
func (e *Error) Retryable() bool {
	return e.Status == 0 || e.Status == http.StatusRequestTimeout ||
		e.Status == http.StatusTooManyRequests || e.Status >= http.StatusInternalServerError
}

// RetryAfter is how long PagerDuty asked us to wait before trying again (its Retry-After
// header), or 0 when it did not say.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// fail turns an error from go-pagerduty into an *Error, or into the context's error when the
// caller gave up (go-pagerduty flattens that into text).
func (k *call) fail(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", k.op, ctxErr)
	}
	e := &Error{Op: k.op, Message: err.Error(), err: err}
	var answered pagerduty.APIError
	if errors.As(err, &answered) {
		e.Status = answered.StatusCode
		e.Message = explanation(k.last.body)
		e.retryAfter = retryAfter(k.last.header)
	}
	return e
}

// explanation reads PagerDuty's error body: the REST API's {"error":{"message","errors"}} or the
// Events API's {"message","errors"}.
func explanation(body []byte) string {
	var doc struct {
		Error *struct {
			Message string   `json:"message"`
			Errors  []string `json:"errors"`
		} `json:"error"`
		Message string   `json:"message"`
		Errors  []string `json:"errors"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return strings.TrimSpace(string(body))
	}
	message, details := doc.Message, doc.Errors
	if doc.Error != nil {
		message, details = doc.Error.Message, doc.Error.Errors
	}
	return strings.Join(append([]string{message}, details...), ": ")
}

// retryAfter reads a Retry-After header given in seconds; 0 when absent or not seconds.
func retryAfter(h http.Header) time.Duration {
	seconds, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || seconds < 0 {
		return 0
	}
	return time.Duration(seconds) * time.Second
}
