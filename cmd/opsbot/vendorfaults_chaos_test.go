//go:build chaos && !nosandbox

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// How a vendor misbehaves for a burst of requests.
type vendorFault string

const (
	fault500         vendorFault = "500"
	fault502         vendorFault = "502"
	fault503         vendorFault = "503 Retry-After 1"
	fault429         vendorFault = "429 Retry-After 1"
	fault429Bare     vendorFault = "429 without Retry-After"
	faultTimeout     vendorFault = "no answer (timeout)"
	faultConnReset   vendorFault = "connection reset"
	vendorTimeout                = time.Second // the bot's per-call limit in this test
	faultBurstLength             = 3           // requests failed per burst
)

var vendorFaults = []vendorFault{fault500, fault502, fault503, fault429, fault429Bare, faultTimeout, faultConnReset}

// debugFaults prints each fault as it is injected (CHAOS_DEBUG=1).
var debugFaults = os.Getenv("CHAOS_DEBUG") != ""

// faultProxy stands between opsbot and one vendor's sandbox fake. It passes requests through,
// except during a burst, when it fails the next few in one of the ways vendors fail.
type faultProxy struct {
	vendor string
	srv    *httptest.Server
	proxy  *httputil.ReverseProxy

	mu    sync.Mutex
	burst []vendorFault
	// failing: the last request was failed, so the vendor is in an outage that has not ended.
	failing  bool
	injected map[vendorFault]int
	faulted  map[string]bool // METHOD path of each request failed …
	retried  map[string]bool // … and of each later passed through
	passed   int
}

func newFaultProxy(t *testing.T, vendor, target string) *faultProxy {
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &faultProxy{
		vendor: vendor, proxy: httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host}),
		injected: map[vendorFault]int{}, faulted: map[string]bool{}, retried: map[string]bool{},
	}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

// startBurst fails the next faultBurstLength requests with f, instead of what is left of a
// burst that has not failed anything yet: bursts do not pile up while the bot is quiet. It
// does nothing while the vendor is failing, until a request passes: an outage ends before the
// next begins. Without that, a burst of timeouts (a second each) ran into the next one, and a
// step failed six times in a row and gave up on the vendor, as it should after the minutes of
// backoff that this test compresses into fractions of a second.
func (p *faultProxy) startBurst(f vendorFault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.failing {
		p.burst = slices.Repeat([]vendorFault{f}, faultBurstLength)
	}
}

// leastInjected is the way of failing that the proxies have used least so far, so that the
// bursts the bot meets take every way in turn.
func leastInjected(proxies []*faultProxy) vendorFault {
	least, fewest := vendorFaults[0], -1
	for _, f := range vendorFaults {
		n := 0
		for _, p := range proxies {
			p.mu.Lock()
			n += p.injected[f]
			p.mu.Unlock()
		}
		if fewest < 0 || n < fewest {
			least, fewest = f, n
		}
	}
	return least
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	p.mu.Lock()
	var f vendorFault
	if len(p.burst) > 0 {
		f, p.burst = p.burst[0], p.burst[1:]
		p.injected[f]++
		p.faulted[key] = true
		p.failing = true
	} else {
		p.passed++
		p.failing = false
		if p.faulted[key] {
			p.retried[key] = true
		}
	}
	p.mu.Unlock()
	if debugFaults && f != "" {
		fmt.Printf("%s %s %s: %s\n", time.Now().Format("15:04:05.000"), p.vendor, key, f)
	}

	switch f {
	case "":
		p.proxy.ServeHTTP(w, r)
	case faultTimeout:
		select { // answer nothing until the bot gives up
		case <-r.Context().Done():
		case <-time.After(10 * vendorTimeout):
		}
	case faultConnReset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	default:
		status := map[vendorFault]int{fault500: 500, fault502: 502, fault503: 503, fault429: 429, fault429Bare: 429}[f]
		if strings.Contains(string(f), "Retry-After") {
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":%q}`, http.StatusText(status))
	}
}

// summary is one line of the figures: what was injected and whether the bot came back.
func (p *faultProxy) summary() (string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	var parts []string
	for _, f := range vendorFaults {
		if n := p.injected[f]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s ×%d", f, n))
			total += n
		}
	}
	return fmt.Sprintf("%-10s %3d faults (%s); %d of %d failed endpoints asked again and answered; %d requests passed",
		p.vendor, total, strings.Join(parts, ", "), len(p.retried), len(p.faulted), p.passed), total
}

// TestVendorFaultBurstsDelayButNeverBreakARun releases, deploys (with its verification) and
// declares and resolves an incident while GitHub, AWS, PagerDuty and Statuspage fail in
// bursts — 5xx, 429 with and without Retry-After, no answer, dropped connections — and Slack
// rate-limits the bot's messages. Every run must finish as if nothing had happened, with each
// effect once; the cards must say what they are retrying; and no message may be lost.
func TestVendorFaultBurstsDelayButNeverBreakARun(t *testing.T) {
	var proxies []*faultProxy
	b := startTestBot(t, testBotOptions{
		github:        fakegithub.Options{Reviewer: "erin", Teammate: true, Workflow: fakegithub.Workflow{QueueTime: 300 * time.Millisecond, RunTime: 700 * time.Millisecond}},
		quiet:         true,
		vendorTimeout: vendorTimeout,
		patience:      3 * time.Minute,
		config: func(yaml string, sb *sandbox.Sandbox) string {
			yaml, env := fastDeploys(t, yaml), sb.Env()
			for _, v := range []struct{ vendor, env string }{
				{"github", "OPSBOT_GITHUB_API_URL"}, {"aws", "AWS_ENDPOINT_URL"},
				{"pagerduty", "OPSBOT_PAGERDUTY_API_URL"}, {"statuspage", "OPSBOT_STATUSPAGE_API_URL"},
			} {
				u, err := url.Parse(env[v.env])
				require.NoError(t, err, v.env)
				p := newFaultProxy(t, v.vendor, env[v.env])
				proxies = append(proxies, p)
				// Every URL of the vendor's fake (PagerDuty's Events API too) goes through it.
				yaml = strings.ReplaceAll(yaml, u.Scheme+"://"+u.Host, p.srv.URL)
			}
			return yaml
		},
	})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	// Bursts: every 750 ms one vendor, in turn, fails its next three requests in whichever of
	// the seven ways has failed the fewest requests so far, unless it is failing already; every
	// 15 s Slack answers the next five Web API calls with 429.
	var background sync.WaitGroup
	background.Go(func() {
		tick := time.NewTicker(750 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			proxies[i%len(proxies)].startBurst(leastInjected(proxies))
			if i%20 == 0 {
				b.sb.Slack.RateLimitNext(5)
			}
		}
	})
	// Retries wait as the vendor asked or, when it did not say, for their backoff (30 s and
	// more): the test moves the clock past a wait once the card has had time to show it. It
	// also notes every retry the cards show.
	var (
		seenMu   sync.Mutex
		retrying = map[string]bool{}
	)
	retryLine := regexp.MustCompile(`\*([^*]+)\* — (retrying after an error: [^"\\]{0,60})`)
	background.Go(func() {
		waitingSince := map[string]time.Time{}
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			for _, ch := range []string{fakeslack.Deploys, fakeslack.Incidents} {
				for _, m := range b.sb.Slack.Messages(ch) {
					for _, found := range retryLine.FindAllStringSubmatch(string(m.Blocks), -1) {
						seenMu.Lock()
						retrying[found[1]+" — "+found[2]] = true
						seenMu.Unlock()
					}
				}
			}
			runs, err := b.app.Store.ListRuns(ctx, store.RunQuery{})
			if err != nil {
				continue
			}
			for _, r := range runs {
				if r.State.Final() {
					continue
				}
				for _, s := range r.Steps {
					key := fmt.Sprintf("%d/%s/%d", r.ID, s.Name, s.Attempts)
					if s.State != store.StepWaiting || s.Wait != store.WaitRetry || r.WakeAt == nil {
						continue
					}
					if _, ok := waitingSince[key]; !ok {
						waitingSince[key] = time.Now()
					}
					if wait := r.WakeAt.Sub(b.clk.Now()); wait > time.Second && time.Since(waitingSince[key]) > 300*time.Millisecond {
						b.clk.Advance(wait)
					}
				}
			}
		}
	})

	started := time.Now()
	b.slash(fakeslack.Alice, fakeslack.Deploys, "/release", "v1.0.0")
	release := b.run(store.KindRelease, "Release v1.0.0", func(r store.Run) bool { return r.State.Final() })
	require.Equal(t, store.RunSucceeded, release.State, describeRun(release))

	b.slash(fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.0.0")
	title := "Deploy v1.0.0 → production"
	b.tickChecklist(title)
	b.run(store.KindDeploy, title, stepIs("approval", store.StepWaiting))
	for deadline := time.Now().Add(waitFor); ; time.Sleep(100 * time.Millisecond) {
		// Approve opens Slack's confirmation dialog, whose button sends the click; a dialog
		// left open by an earlier try is answered.
		if _, err := b.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Approve v1.0.0"); err == nil {
			break
		}
		d, err := b.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Approve")
		if err == nil && d.AwaitingConfirm {
			_, err = b.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Approve v1.0.0")
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			r, _ := b.current(store.KindDeploy, title)
			t.Fatalf("bob cannot approve: %v\n%s", err, describeRun(r))
		}
	}
	deployed := b.run(store.KindDeploy, title, func(r store.Run) bool { return r.State.Final() })

	b.slash(fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev1 Checkout errors")
	name := "SEV1 · Checkout errors"
	declared := b.run(store.KindIncident, name, stepIs("respond", store.StepWaiting))
	b.slash(fakeslack.Carol, declared.Channel, "/incident", "resolve Rolled back")
	resolved := b.run(store.KindIncident, name, func(r store.Run) bool { return r.State.Final() })
	took := time.Since(started)

	stop()
	background.Wait()
	require.Eventually(t, func() bool { return b.app.Idle(context.Background()) }, waitFor, tick, "the outbox drains")

	require.Equal(t, store.RunSucceeded, deployed.State, "the deploy succeeds: %s", describeRun(deployed))
	require.Equal(t, store.RunSucceeded, resolved.State, "the incident ends: %s", describeRun(resolved))
	for _, r := range []store.Run{release, deployed, resolved} {
		for _, s := range r.Steps {
			require.Equal(t, store.StepPassed, s.State, "%s: step %s did not pass: %s", r.Title, s.Name, s.Detail)
			require.NotContains(t, s.Detail, "error", "%s: step %s passed, yet its detail speaks of an error", r.Title, s.Name)
		}
	}

	// Each effect once.
	gh := githubEffects(b.sb, "v1.0.0", "production")
	require.Equal(t, 1, gh.merges, "one merge")
	require.Equal(t, 1, gh.tags, "one tag")
	require.Equal(t, 1, gh.releases, "one GitHub release")
	require.Equal(t, 1, gh.workflowRuns, "one workflow run")
	require.Len(t, gh.statuses, 1, "one deployment")
	require.Equal(t, "success", gh.statuses[0][len(gh.statuses[0])-1], "the deployment ends a success: %v", gh.statuses)
	requireOneResolvedVendorIncident(t, b.sb)
	require.Empty(t, repeatedPosts(b.sb, fakeslack.Deploys, fakeslack.Incidents, fakeslack.Stakeholders, declared.Channel),
		"no message posted twice")
	require.Len(t, botPosts(b.sb, fakeslack.Stakeholders, name), 2, "the stakeholders hear of the declaration and the resolution")
	require.Len(t, botPosts(b.sb, fakeslack.Deploys, title), 1, "one deploy card")

	// The figures.
	var lines []string
	total := 0
	for _, p := range proxies {
		line, n := p.summary()
		lines = append(lines, line)
		total += n
		require.Positive(t, n, "%s was never faulted: the test proved nothing about it", p.vendor)
	}
	rateLimited := 0
	for _, n := range b.sb.Slack.Stats().RateLimited {
		rateLimited += n
	}
	seenMu.Lock()
	shown := slices.Collect(func(yield func(string) bool) {
		for line := range retrying {
			if !yield(line) {
				return
			}
		}
	})
	seenMu.Unlock()
	sort.Strings(shown)
	require.NotEmpty(t, shown, "a card says what it is retrying")
	t.Logf("vendor faults: %d injected in %s of wall time; release, deploy (verified) and incident each finished once:\n  %s\n  slack      %d Web API calls answered 429, every message delivered\n  retries the cards showed (%d), e.g.:\n    %s",
		total, took.Round(100*time.Millisecond), strings.Join(lines, "\n  "), rateLimited, len(shown),
		strings.Join(shown[:min(len(shown), 8)], "\n    "))
}
