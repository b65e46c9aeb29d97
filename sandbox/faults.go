package sandbox

import (
	"fmt"
	"sort"
	"strings"

	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// fault is one thing the console's `:fault TARGET KIND` can make go wrong.
type fault struct {
	what  string
	apply func(*Sandbox) error
}

// faults maps "TARGET KIND" to what it does. Request faults come in bursts of three so that a
// retry with backoff is visible; state faults (CI, health …) last until `:fault clear`.
var faults = map[string]fault{
	"slack disconnect": {"Slack sends `disconnect` (refresh_requested) and closes the socket; the bot reconnects",
		func(sb *Sandbox) error { sb.Slack.Disconnect(fakeslack.DisconnectRefreshRequested); return nil }},
	"slack drop": {"the Socket Mode TCP connection drops without a close frame",
		func(sb *Sandbox) error { sb.Slack.DropSockets(); return nil }},
	"slack duplicate": {"the next envelope is delivered twice, as a Slack retry",
		func(sb *Sandbox) error { sb.Slack.DuplicateNext(1); return nil }},
	"slack 429": {"the next 3 Web API calls get HTTP 429 with Retry-After: 1",
		func(sb *Sandbox) error { sb.Slack.RateLimitNext(3); return nil }},
	"github 500": {"the next 3 GitHub calls answer 500", githubFault(fakegithub.FaultServerError, 3)},
	"github 429": {"the next 3 GitHub calls hit the secondary rate limit (429 with Retry-After)", githubFault(fakegithub.FaultTooManyRequests, 3)},
	"github 403": {"the next 3 GitHub calls hit the secondary rate limit (403 with Retry-After)", githubFault(fakegithub.FaultAbuseForbidden, 3)},
	"ci fail":    {"a check run on develop and the release heads fails", githubFault(fakegithub.FaultCIFail, 1)},
	"ci pending": {"the checks on develop and the release heads stay in progress", githubFault(fakegithub.FaultCIPending, 100)},
	"workflow fail": {"the next production workflow run fails at its deploy step",
		githubFault(fakegithub.FaultWorkflowFail, 1)},
	"soak young":       {"the development deployment of develop's head is only 1 h old", githubFault(fakegithub.FaultSoakYoung, 1)},
	"health unhealthy": {"2 load-balancer targets turn unhealthy and /health answers 503", awsFault(fakeaws.FaultHealthUnhealthy)},
	"logs errors":      {"ERROR lines appear in CloudWatch Logs", awsFault(fakeaws.FaultLogsErrors)},
	"alarm firing":     {"a CloudWatch alarm goes to ALARM", awsFault(fakeaws.FaultAlarmFiring)},
	"latency high":     {"TargetResponseTime p95 (and New Relic) goes up fourfold", awsFault(fakeaws.FaultLatencyHigh)},
	"cache cold":       {"the ElastiCache hit rate drops to 0.4", awsFault(fakeaws.FaultCacheCold)},
	"sentry spike":     {"Sentry errors go up fivefold", awsFault(fakeaws.FaultSentrySpike)},
	"pagerduty 500": {"the next 3 PagerDuty calls answer 500",
		func(sb *Sandbox) error { return sb.PagerDuty.Fail("500", 3) }},
	"statuspage 429": {"the next 3 Statuspage calls answer 429",
		func(sb *Sandbox) error { return sb.Statuspage.Fail("429", 3) }},
}

func githubFault(kind fakegithub.Fault, n int) func(*Sandbox) error {
	return func(sb *Sandbox) error { return sb.GitHub.Fail(kind, n) }
}

func awsFault(name string) func(*Sandbox) error {
	return func(sb *Sandbox) error { return sb.Faults.Set(name) }
}

// Fault injects a fault by its console name, e.g. "github 500"; "clear" ends the lasting ones.
func (sb *Sandbox) Fault(name string) error {
	name = strings.Join(strings.Fields(strings.ToLower(name)), " ")
	if name == "clear" {
		sb.Faults.Clear()
		sb.PagerDuty.Clear()
		sb.Statuspage.Clear()
		return nil
	}
	f, ok := faults[name]
	if !ok {
		return fmt.Errorf("unknown fault %q; known: %s, clear", name, strings.Join(FaultNames(), ", "))
	}
	return f.apply(sb)
}

// FaultNames lists the faults, sorted.
func FaultNames() []string {
	names := make([]string, 0, len(faults))
	for n := range faults {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FaultHelp describes every fault, one per line.
func FaultHelp() string {
	var b strings.Builder
	for _, n := range FaultNames() {
		fmt.Fprintf(&b, "  %-17s %s\n", n, faults[n].what)
	}
	fmt.Fprintf(&b, "  %-17s %s\n", "clear", "ends the lasting faults (AWS, monitoring, PagerDuty, Statuspage)")
	return b.String()
}
