package github

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	gogithub "github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/require"
)

// The fake GitHub answers its faults with Retry-After only; these are the other ways GitHub's
// documentation says it asks a client to wait.
func TestWaitAskedByHeaders(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(10 * time.Minute)
	cases := []struct {
		name     string
		status   int
		header   http.Header
		min, max time.Duration
	}{
		{"429 until the rate limit resets", http.StatusTooManyRequests, http.Header{
			"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(reset.Unix(), 10)},
		}, 9 * time.Minute, 10 * time.Minute},
		{"429 saying nothing: a minute", http.StatusTooManyRequests, http.Header{}, time.Minute, time.Minute},
		{"503 with Retry-After", http.StatusServiceUnavailable, http.Header{"Retry-After": {"120"}}, 2 * time.Minute, 2 * time.Minute},
		{"502 saying nothing: the default", http.StatusBadGateway, http.Header{}, defaultRetryWait, defaultRetryWait},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			answer := &http.Response{StatusCode: c.status, Header: c.header}
			err := fail(context.Background(), "reading", &gogithub.Response{Response: answer},
				&gogithub.ErrorResponse{Response: answer, Message: "slow down"})
			wait, retry := RetryAfter(err)
			require.True(t, retry)
			require.GreaterOrEqual(t, wait, c.min)
			require.LessOrEqual(t, wait, c.max)
		})
	}
}
