// Package sandbox starts every vendor fake opsbot talks to — Slack, GitHub, AWS, Sentry, New
// Relic, Pingdom, PagerDuty, Statuspage — on loopback, on one shared clock, and describes them
// the way opsbot is configured: the environment variables that point at them and an opsbot.yaml
// wired to their fixed users, groups, channels and repository. The console, the tests and
// `opsbot sandbox` all start it the same way.
package sandbox

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakemonitoring"
	"github.com/opsbot-dev/opsbot/sandbox/fakepagerduty"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/sandbox/fakestatuspage"
)

// Options configure the sandbox.
type Options struct {
	// Clock is shared by every fake (and by the bot, in the console).
	Clock clock.Clock
	// SpecsDir is the folder of the vendors' API descriptions (shared/specs). When set, every
	// fake checks the requests it gets against them; the AWS fake needs it to speak at all.
	SpecsDir string
	// Slack overrides the Slack fake's options (the clock, validator and logger are set here).
	Slack fakeslack.Options
	// GitHub overrides the GitHub fake's options (the clock, specs and logger are set here).
	GitHub fakegithub.Options
	Logger zerolog.Logger
}

// Sandbox is the running fakes.
type Sandbox struct {
	Slack      *fakeslack.Server
	GitHub     *fakegithub.Server
	AWS        *fakeaws.Server // nil without SpecsDir: the AWS wire protocols need the models
	Monitoring *fakemonitoring.Server
	PagerDuty  *fakepagerduty.Server
	Statuspage *fakestatuspage.Server
	// Faults is the timeline AWS and the monitoring fakes share (`health unhealthy` …).
	Faults *fakeaws.Faults

	specsDir string
	closers  []func() error
}

// Start starts every fake. Close stops them.
func Start(opts Options) (_ *Sandbox, err error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	sb := &Sandbox{specsDir: opts.SpecsDir, Faults: fakeaws.NewFaults(opts.Clock)}
	defer func() {
		if err != nil {
			sb.Close()
		}
	}()

	slackOpts := opts.Slack
	slackOpts.Clock, slackOpts.Logger = opts.Clock, opts.Logger.With().Str("fake", "slack").Logger()
	if slackOpts.RateLimits.PerMinute == nil {
		slackOpts.RateLimits = fakeslack.DefaultRateLimits()
		// Slack's Tier 1 is "1+ per minute"; in practice a reconnect is not refused for a
		// minute, and the console's `:fault slack disconnect` would stall for one if it were.
		slackOpts.RateLimits.PerMinute["apps.connections.open"] = 20
	}
	if opts.SpecsDir != "" {
		v, err := apispec.Slack(opts.SpecsDir)
		if err != nil {
			return nil, fmt.Errorf("loading Slack's API description: %w", err)
		}
		slackOpts.Validator = v
	}
	if sb.Slack, err = fakeslack.New(slackOpts); err != nil {
		return nil, fmt.Errorf("starting the sandbox Slack: %w", err)
	}
	sb.closers = append(sb.closers, sb.Slack.Close)

	ghOpts := opts.GitHub
	ghOpts.Clock, ghOpts.SpecsDir, ghOpts.Logger = opts.Clock, opts.SpecsDir, opts.Logger.With().Str("fake", "github").Logger()
	if sb.GitHub, err = fakegithub.New(ghOpts); err != nil {
		return nil, fmt.Errorf("starting the sandbox GitHub: %w", err)
	}
	sb.closers = append(sb.closers, sb.GitHub.Close)

	if opts.SpecsDir != "" {
		models, err := fakeaws.LoadModels(opts.SpecsDir)
		if err != nil {
			return nil, fmt.Errorf("loading the AWS models: %w", err)
		}
		if sb.AWS, err = fakeaws.New(fakeaws.Options{Models: models, Clock: opts.Clock, Faults: sb.Faults, Logger: opts.Logger}); err != nil {
			return nil, fmt.Errorf("starting the sandbox AWS: %w", err)
		}
		sb.closers = append(sb.closers, sb.AWS.Close)
	}
	if sb.Monitoring, err = fakemonitoring.New(fakemonitoring.Options{Clock: opts.Clock, Faults: sb.Faults, Logger: opts.Logger}); err != nil {
		return nil, fmt.Errorf("starting the sandbox monitoring: %w", err)
	}
	sb.closers = append(sb.closers, sb.Monitoring.Close)
	if sb.PagerDuty, err = fakepagerduty.New(fakepagerduty.Options{Clock: opts.Clock, SpecsDir: opts.SpecsDir}); err != nil {
		return nil, fmt.Errorf("starting the sandbox PagerDuty: %w", err)
	}
	sb.closers = append(sb.closers, sb.PagerDuty.Close)
	if sb.Statuspage, err = fakestatuspage.New(fakestatuspage.Options{Clock: opts.Clock, SpecsDir: opts.SpecsDir}); err != nil {
		return nil, fmt.Errorf("starting the sandbox Statuspage: %w", err)
	}
	sb.closers = append(sb.closers, sb.Statuspage.Close)
	return sb, nil
}

// Close stops every fake.
func (sb *Sandbox) Close() error {
	var errs []error
	for i := len(sb.closers) - 1; i >= 0; i-- {
		errs = append(errs, sb.closers[i]())
	}
	sb.closers = nil
	return errors.Join(errs...)
}

// Validating reports whether requests are checked against the vendors' API descriptions.
func (sb *Sandbox) Validating() bool { return sb.specsDir != "" }

// Endpoint is one vendor's base URL.
type Endpoint struct {
	Vendor string
	URL    string
}

// Endpoints lists the fakes' base URLs, in the order `opsbot sandbox` prints them.
func (sb *Sandbox) Endpoints() []Endpoint {
	eps := []Endpoint{
		{"slack", sb.Slack.APIURL()},
		{"github", sb.GitHub.BaseURL()},
	}
	if sb.AWS != nil {
		eps = append(eps, Endpoint{"aws", sb.AWS.URL()})
	}
	return append(eps,
		Endpoint{"pagerduty", sb.PagerDuty.APIURL()},
		Endpoint{"statuspage", sb.Statuspage.APIURL()},
		Endpoint{"sentry", sb.Monitoring.SentryURL()},
		Endpoint{"newrelic", sb.Monitoring.NewRelicURL()},
		Endpoint{"pingdom", sb.Monitoring.PingdomURL()},
	)
}

// Env is the environment that points opsbot at the sandbox: endpoints and the sandbox's own,
// publicly known credentials.
func (sb *Sandbox) Env() map[string]string {
	env := map[string]string{
		"SLACK_APP_TOKEN":           fakeslack.AppToken,
		"SLACK_BOT_TOKEN":           fakeslack.BotToken,
		"OPSBOT_SLACK_API_URL":      sb.Slack.APIURL(),
		"GITHUB_TOKEN":              fakegithub.DefaultToken,
		"OPSBOT_GITHUB_API_URL":     sb.GitHub.BaseURL(),
		"PAGERDUTY_TOKEN":           fakepagerduty.Token,
		"OPSBOT_PAGERDUTY_API_URL":  sb.PagerDuty.APIURL(),
		"STATUSPAGE_API_KEY":        fakestatuspage.APIKey,
		"OPSBOT_STATUSPAGE_API_URL": sb.Statuspage.APIURL(),
		"SENTRY_TOKEN":              fakemonitoring.SentryToken,
		"OPSBOT_SENTRY_API_URL":     sb.Monitoring.SentryURL(),
		"NEWRELIC_API_KEY":          fakemonitoring.NewRelicAPIKey,
		"OPSBOT_NEWRELIC_API_URL":   sb.Monitoring.NewRelicURL(),
		"PINGDOM_TOKEN":             fakemonitoring.PingdomToken,
		"OPSBOT_PINGDOM_API_URL":    sb.Monitoring.PingdomURL(),
	}
	if sb.AWS != nil {
		env["AWS_ENDPOINT_URL"] = sb.AWS.URL()
	}
	return env
}

// verification is an environment's post-deployment verification wired to the sandbox's AWS
// account and monitoring: every check, sampled three times over a few seconds of wall time, so
// that a console deploy (and the tests driving the console or real `serve` processes) sees its
// verdict without moving the clock. The AWS checks are there only when the sandbox has AWS (it
// needs the API descriptions).
func (sb *Sandbox) verification() string {
	var b strings.Builder
	b.WriteString("      verification:\n        window: 6s\n        interval: 3s\n")
	if sb.AWS == nil {
		fmt.Fprintf(&b, "        health: {url: %q}\n", sb.Monitoring.HealthURL())
	} else {
		fmt.Fprintf(&b, `        health:
          target_groups: [%q, %q]
          url: %q
        logs: {group: %q, max_errors: 0}
        alarms: [%s, %s]
        response_time: {load_balancer: %q, max_p95: 500ms}
        cpu: {auto_scaling_group: %s}
        cache: {cluster: %s}
`, fakeaws.WebTargetGroupARN, fakeaws.APITargetGroupARN, sb.Monitoring.HealthURL(), fakeaws.LogGroup,
			fakeaws.AlarmErrors, fakeaws.AlarmLatency, fakeaws.LoadBalancer, fakeaws.AutoScalingGroup, fakeaws.CacheCluster)
	}
	fmt.Fprintf(&b, `        sentry: {org: %s, project_id: %d}
        newrelic: {account_id: %d, app: %s, max_p95: 500ms}
        pingdom: {check_id: %d}
`, fakemonitoring.SentryOrg, fakemonitoring.SentryProjectID, fakemonitoring.NewRelicAccountID, fakemonitoring.NewRelicApp,
		fakemonitoring.PingdomCheckID)
	return b.String()
}

// Config is an opsbot.yaml wired to the sandbox: its channels, user groups and repository, and
// (under sandbox.env) the endpoints and credentials above, so that `opsbot serve --config` runs
// with it as it is. The real environment still wins over sandbox.env.
func (sb *Sandbox) Config(storePath string) string {
	env := sb.Env()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, `# opsbot.yaml wired to the sandbox started by 'opsbot sandbox' (fixed IDs; see the README).
slack:
  deploys_channel: %s
  incidents_channel: %s
  stakeholders_channel: %s
roles:
  deployer: {groups: [%s]}
  product_owner: {groups: [%s]}
  incident_commander: {groups: [%s]}
  on_call: {groups: [%s]}
store:
  driver: sqlite
  path: %q
http:
  listen: ""
github:
  repository: acme/analytics
deploy:
  default_environment: production
  environments:
    production:
      soak: {environment: development, duration: 24h}
      approval: product_owner
%s    staging:
      approval: none
      checklist: false
%sincidents:
  pagerduty:
    service_id: %s
    escalation_policy_id: %s
    from: opsbot@example.com
    routing_key: %s
    events_url: %q
    services: {analytics: %s}
  statuspage:
    page_id: %s
    components: [%s]
sandbox:
  # The sandbox's endpoints and its publicly known credentials. Only loopback URLs are accepted
  # here; real credentials always come from the environment.
  env:
`, fakeslack.Deploys, fakeslack.Incidents, fakeslack.Stakeholders,
		fakeslack.Deployers, fakeslack.ProductOwners, fakeslack.Oncall, fakeslack.Oncall, storePath,
		sb.verification(), sb.verification(),
		fakepagerduty.ServiceID, fakepagerduty.EscalationPolicyID, fakepagerduty.RoutingKey, sb.PagerDuty.EventsURL(),
		fakepagerduty.EscalationPolicyID, fakestatuspage.PageID, fakestatuspage.ComponentAPI)
	for _, k := range keys {
		fmt.Fprintf(&b, "    %s: %q\n", k, env[k])
	}
	return b.String()
}
