package github_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

func TestRetryVerdicts(t *testing.T) {
	t.Parallel()
	const askedWait = 7 * time.Second
	cases := []struct {
		name       string
		opts       fakegithub.Options
		httpClient *http.Client
		// arrange makes the next look-up of develop fail, and may return the context to use.
		arrange   func(t *testing.T, b testBundle) context.Context
		gaveUp    bool // the error is the context's, not GitHub's
		status    int
		wantRetry bool
		wantWait  func(t *testing.T, wait time.Duration)
		message   string
	}{
		{
			name: "500 is retried after a default wait",
			arrange: func(t *testing.T, b testBundle) context.Context {
				require.NoError(t, b.srv.Fail(fakegithub.FaultServerError, 1))
				return b.ctx
			},
			status: http.StatusInternalServerError, wantRetry: true,
			wantWait: func(t *testing.T, wait time.Duration) { require.Equal(t, 30*time.Second, wait) },
			message:  "looking up branch develop: GitHub answered 500: Server Error",
		},
		{
			name: "429 secondary rate limit waits its Retry-After",
			opts: fakegithub.Options{SecondaryRetryAfter: askedWait},
			arrange: func(t *testing.T, b testBundle) context.Context {
				require.NoError(t, b.srv.Fail(fakegithub.FaultTooManyRequests, 1))
				return b.ctx
			},
			status: http.StatusTooManyRequests, wantRetry: true,
			wantWait: func(t *testing.T, wait time.Duration) { require.Equal(t, askedWait, wait) },
			message:  "secondary rate limit",
		},
		{
			name: "403 secondary rate limit waits its Retry-After",
			opts: fakegithub.Options{SecondaryRetryAfter: askedWait},
			arrange: func(t *testing.T, b testBundle) context.Context {
				require.NoError(t, b.srv.Fail(fakegithub.FaultAbuseForbidden, 1))
				return b.ctx
			},
			status: http.StatusForbidden, wantRetry: true,
			wantWait: func(t *testing.T, wait time.Duration) { require.Equal(t, askedWait, wait) },
			message:  "secondary rate limit",
		},
		{
			name: "spent hourly rate limit waits for its reset",
			opts: fakegithub.Options{RateLimit: 1},
			arrange: func(t *testing.T, b testBundle) context.Context {
				_, err := b.client.Branch(b.ctx, "main")
				require.NoError(t, err)
				return b.ctx
			},
			status: http.StatusForbidden, wantRetry: true,
			wantWait: func(t *testing.T, wait time.Duration) {
				require.Greater(t, wait, time.Duration(0))
				require.LessOrEqual(t, wait, time.Hour)
			},
			message: "rate limit",
		},
		{
			name:       "a timeout is retried after a default wait",
			httpClient: &http.Client{Timeout: 100 * time.Millisecond},
			arrange: func(t *testing.T, b testBundle) context.Context {
				b.srv.Latency(time.Hour)
				return b.ctx
			},
			status: 0, wantRetry: true,
			wantWait: func(t *testing.T, wait time.Duration) { require.Equal(t, 30*time.Second, wait) },
			message:  "looking up branch develop: no answer from GitHub",
		},
		{
			name: "a caller that gave up gets its context's error, not a retry",
			arrange: func(t *testing.T, b testBundle) context.Context {
				ctx, cancel := context.WithCancel(b.ctx)
				cancel()
				return ctx
			},
			gaveUp:  true,
			message: "looking up branch develop: context canceled",
		},
		{
			name: "a missing permission is not retried",
			arrange: func(t *testing.T, b testBundle) context.Context {
				return b.ctx
			},
			opts:    fakegithub.Options{Token: "ghp_anothertoken"},
			status:  http.StatusUnauthorized,
			message: "Bad credentials",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setupWithHTTP(t, c.opts, c.httpClient)
			ctx := c.arrange(t, b)

			_, err := b.client.Branch(ctx, "develop")
			require.ErrorContains(t, err, c.message)
			wait, retry := github.RetryAfter(err)
			require.Equal(t, c.wantRetry, retry, "verdict of %v", err)
			if c.wantWait != nil {
				c.wantWait(t, wait)
			}
			if c.gaveUp {
				require.ErrorIs(t, err, context.Canceled)
				return
			}
			var refusal *github.Error
			require.ErrorAs(t, err, &refusal)
			require.Equal(t, c.status, refusal.Status)
		})
	}
}
