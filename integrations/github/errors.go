package github

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gogithub "github.com/google/go-github/v60/github"
)

// Kinds of refusal, matched with errors.Is.
var (
	// ErrNotFound: the branch, tag, release, pull request, deployment or run does not exist
	// (GitHub's 404, or a lookup that found nothing).
	ErrNotFound = errors.New("not found on GitHub")
	// ErrConflict: GitHub's 409, the request conflicts with the repository's state.
	ErrConflict = errors.New("conflicts with the repository on GitHub")
	// ErrInvalid: GitHub's 422, the request was understood but refused (Error.Message says why).
	ErrInvalid = errors.New("refused by GitHub as invalid")
	// ErrHeadMoved: the pull request's head is no longer the commit that was checked and
	// approved, so it was not merged.
	ErrHeadMoved = errors.New("the pull request's head moved")
	// ErrNotMergeable: GitHub refuses to merge the pull request (closed, conflicting, or blocked
	// by branch protection).
	ErrNotMergeable = errors.New("the pull request cannot be merged")
	// ErrTagConflict: the tag exists on another commit (see TagConflictError).
	ErrTagConflict = errors.New("the tag exists on another commit")
)

// How long to wait before retrying when GitHub did not say.
const (
	// defaultRetryWait follows a 5xx, a timeout or no answer at all: GitHub's incidents
	// rarely clear within seconds, and the runner can back off further.
	defaultRetryWait = 30 * time.Second
	// secondaryRateLimitWait follows a secondary rate limit without Retry-After: GitHub's
	// documentation asks for at least a minute.
	secondaryRateLimitWait = time.Minute
)

// Error is a request GitHub refused, or one that got no usable answer.
type Error struct {
	// Op is what opsbot was doing, e.g. `merging pull request #9`.
	Op string
	// Status is GitHub's HTTP status; 0 when no answer arrived.
	Status int
	// Message is GitHub's explanation, with the details of a validation failure.
	Message string

	kind       error         // ErrNotFound, ErrConflict, …; nil for other refusals
	retryAfter time.Duration // > 0 when the same request may succeed later
	err        error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: no answer from GitHub: %s", e.Op, e.Message)
	}
	return fmt.Sprintf("%s: GitHub answered %d: %s", e.Op, e.Status, e.Message)
}

// Unwrap returns go-github's error.
func (e *Error) Unwrap() error { return e.err }

// Is reports whether e is of the kind target (ErrNotFound, ErrConflict, ErrInvalid,
// ErrHeadMoved, ErrNotMergeable).
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// RetryAfter reports whether the request behind err may succeed if made again, and after how
// long: the wait GitHub asked for (a rate limit's reset, a secondary rate limit's Retry-After), or
// a default for a 5xx, a timeout or no answer. Refusals that will be refused again (404, 409, 422,
// a missing permission) and a caller's cancelled context report false.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.retryAfter > 0 {
		return e.retryAfter, true
	}
	return 0, false
}

// TagConflictError: the tag exists on another commit. A published tag is never moved.
type TagConflictError struct {
	Tag       string
	TaggedSHA string // the commit the tag points at
	WantedSHA string // the commit it was asked to point at
}

// Is reports whether target is ErrTagConflict.
func (e *TagConflictError) Is(target error) bool { return target == ErrTagConflict }

func (e *TagConflictError) Error() string {
	return fmt.Sprintf("tag %s already points at %s, not %s; opsbot never moves a tag", e.Tag, e.TaggedSHA, e.WantedSHA)
}

// fail turns go-github's error from doing op into an *Error with a verdict, or into the
// context's error when the caller gave up. resp is go-github's response, nil if none.
func fail(ctx context.Context, op string, resp *gogithub.Response, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}
	e := &Error{Op: op, Message: err.Error(), err: err}
	var (
		rateLimited *gogithub.RateLimitError
		secondary   *gogithub.AbuseRateLimitError
		answered    *gogithub.ErrorResponse
		header      http.Header
	)
	switch {
	case errors.As(err, &rateLimited):
		e.Status, e.Message = statusOf(rateLimited.Response), rateLimited.Message
		// The reset is a moment on GitHub's wall clock, as go-github compares it.
		e.retryAfter = max(time.Until(rateLimited.Rate.Reset.Time), time.Second)
	case errors.As(err, &secondary): // the 403 form; go-github also refuses locally until it passes
		e.Status, e.Message = statusOf(secondary.Response), secondary.Message
		e.retryAfter = cmp.Or(max(secondary.GetRetryAfter(), 0), secondaryRateLimitWait)
	case errors.As(err, &answered):
		e.Status, e.Message = statusOf(answered.Response), explanation(answered)
		if answered.Response != nil {
			header = answered.Response.Header
		}
	case resp != nil && resp.Response != nil: // an answer go-github could not read, e.g. a 200 that is not JSON
		e.Status, header = resp.StatusCode, resp.Header
	}
	if e.retryAfter > 0 {
		return e
	}
	switch {
	case e.Status == 0, e.Status == http.StatusRequestTimeout, e.Status >= http.StatusInternalServerError:
		e.retryAfter = cmp.Or(waitAsked(header), defaultRetryWait)
	case e.Status == http.StatusTooManyRequests: // a rate limit in the form go-github v60 leaves untyped
		e.retryAfter = cmp.Or(waitAsked(header), secondaryRateLimitWait)
	case e.Status == http.StatusNotFound:
		e.kind = ErrNotFound
	case e.Status == http.StatusConflict:
		e.kind = ErrConflict
	case e.Status == http.StatusUnprocessableEntity:
		e.kind = ErrInvalid
	}
	return e
}

// refine gives err, when it is GitHub's refusal with the given status, the more precise kind a
// particular call knows it to mean (a 409 on merge: the head moved).
func refine(err error, status int, kind error) error {
	var e *Error
	if errors.As(err, &e) && e.Status == status {
		e.kind = kind
	}
	return err
}

func statusOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

// explanation is GitHub's message with the details of each error it lists, e.g.
// "Validation Failed: A pull request already exists for acme:release/v1.0.0.".
func explanation(answered *gogithub.ErrorResponse) string {
	parts := []string{answered.Message}
	for _, detail := range answered.Errors {
		if detail.Message != "" {
			parts = append(parts, detail.Message)
		} else {
			parts = append(parts, strings.TrimSpace(fmt.Sprintf("%s.%s %s", detail.Resource, detail.Field, detail.Code)))
		}
	}
	return strings.Join(parts, ": ")
}

// waitAsked is how long GitHub's headers ask a client to hold back, as its documentation on
// rate limits reads them: Retry-After in seconds, else until X-RateLimit-Reset when
// X-RateLimit-Remaining is 0; 0 when they ask nothing.
func waitAsked(h http.Header) time.Duration {
	if seconds, err := strconv.Atoi(h.Get("Retry-After")); err == nil && seconds > 0 {
		return time.Duration(seconds) * time.Second
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Until(time.Unix(reset, 0)), time.Second) // GitHub's wall clock, as go-github reads it
		}
	}
	return 0
}
