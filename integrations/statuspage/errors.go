package statuspage

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a request Statuspage refused, or one that got no usable answer.
type Error struct {
	// Op is what opsbot was doing, e.g. `resolving incident p31zjtct2jer`.
	Op string
	// Status is Statuspage's HTTP status; 0 when no answer arrived or it could not be read.
	Status int
	// Message is Statuspage's explanation.
	Message string

	retryAfter time.Duration
	err        error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: no usable answer from Statuspage: %s", e.Op, e.Message)
	}
	return fmt.Sprintf("%s: Statuspage answered %d: %s", e.Op, e.Status, e.Message)
}

// Unwrap returns the transport's error, if that is what went wrong.
func (e *Error) Unwrap() error { return e.err }

// statusEnhanceYourCalm is the status Statuspage has also used for its rate limit.
const statusEnhanceYourCalm = 420

// Retryable reports whether the same request may succeed later: Statuspage was unreachable,
// failing (5xx), slow (408) or rate limiting (429, or 420 as it has also answered). Anything else
// Statuspage refused (a bad key, an unknown component, a body too long) will be refused again.
func (e *Error) Retryable() bool {
	switch {
	case e.Status == 0, e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooManyRequests,
		e.Status == statusEnhanceYourCalm, e.Status >= http.StatusInternalServerError:
		return true
	}
	return false
}

// RetryAfter is how long Statuspage asked us to wait before trying again (its Retry-After
// header), or 0 when it did not say.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// explanation reads Statuspage's error body, {"message": …} (or {"error": …}); anything else is
// given as it came.
func explanation(body []byte) string {
	var doc struct {
		Message string `json:"message"`
		Error   any    `json:"error"`
	}
	if json.Unmarshal(body, &doc) == nil {
		if doc.Message != "" {
			return doc.Message
		}
		if doc.Error != nil {
			return fmt.Sprint(doc.Error)
		}
	}
	return strings.TrimSpace(string(body))
}

// retryAfter reads a Retry-After header given in seconds; 0 when absent or not seconds.
func retryAfter(h http.Header) time.Duration {
	seconds, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || seconds < 0 {
		return 0
	}
	return time.Duration(seconds) * time.Second
}
