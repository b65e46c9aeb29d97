package deploy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/store"
)

// BenchmarkFullReleaseAndDeploy runs /release v1.0.0 and /deploy v1.0.0 to the end against a
// fake GitHub whose deploy workflow takes as long as a small real one (10 s queued, 3 min
// running, followed every 10 s), and reports the GitHub API calls of one release and deploy:
// requests sent, those answered 304 Not Modified, and counted = requests − 304s, what the rate
// limit counts (goal: ≤ 40).
func BenchmarkFullReleaseAndDeploy(b *testing.B) {
	var stats github.CallStats
	for b.Loop() {
		tb := newWorld(b, fakegithub.Workflow{})
		tb.start(b, processHooks{})
		run := tb.deployToProduction(b)
		require.Equal(b, store.RunSucceeded, run.State, describe(run))
		stats = tb.client.Stats()
		tb.kill()
		tb.stopped(b)
	}
	b.ReportMetric(float64(stats.Requests), "requests/op")
	b.ReportMetric(float64(stats.NotModified), "304s/op")
	b.ReportMetric(float64(stats.Requests-stats.NotModified), "counted/op")
}

// BenchmarkApproveToMerge measures the time from a product owner's Approve to the merge
// request leaving for GitHub: the runner is nudged, re-checks the release head, records the
// approval and runs the merge step. Only that span is timed.
func BenchmarkApproveToMerge(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		merges := make(chan struct{}, 1)
		tb := newWorld(b, quickWorkflow)
		tb.start(b, processHooks{transport: func(next http.RoundTripper) http.RoundTripper {
			return mergeWatch{next: next, merges: merges}
		}})
		approvedByCarol(b, tb, tb.cutRelease(b))
		run := tb.startDeploy(b, alice, "")
		run = tb.drive(b, run.ID, stepIs("approval", store.StepWaiting, store.WaitPerson), tb.people(b))
		value := tb.approvalValue(b, run.ID, 1)
		b.StartTimer()

		_, err := tb.svc.Approve(tb.ctx, actor(bob), value)
		require.NoError(b, err)
		select {
		case <-merges:
		case <-time.After(driveTimeout):
			b.Fatal("no merge request within", driveTimeout)
		}

		b.StopTimer()
		tb.kill()
		tb.stopped(b)
		b.StartTimer()
	}
}

// mergeWatch tells when a merge request is sent.
type mergeWatch struct {
	next   http.RoundTripper
	merges chan<- struct{}
}

func (w mergeWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/merge") {
		select {
		case w.merges <- struct{}{}:
		default:
		}
	}
	return w.next.RoundTrip(r)
}
