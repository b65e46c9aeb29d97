package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Secret is a credential. It never prints itself: fmt, JSON and zerolog all see "[redacted]".
type Secret struct{ value string }

// NewSecret wraps a credential.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the credential, for the one place that sends it to its vendor.
func (s Secret) Reveal() string { return s.value }

// Empty reports whether no credential was given.
func (s Secret) Empty() bool { return s.value == "" }

// String hides the credential.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the credential from %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalText hides the credential from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Env is what opsbot takes from the process environment: secrets and endpoint overrides.
type Env struct {
	SlackAppToken    Secret // SLACK_APP_TOKEN (xapp-…, scope connections:write)
	SlackBotToken    Secret // SLACK_BOT_TOKEN (xoxb-…)
	GitHubToken      Secret // GITHUB_TOKEN
	PagerDutyToken   Secret // PAGERDUTY_TOKEN
	StatuspageAPIKey Secret // STATUSPAGE_API_KEY
	SentryToken      Secret // SENTRY_TOKEN (an auth token with org:read)
	NewRelicAPIKey   Secret // NEWRELIC_API_KEY (a user key, NRAK-…)
	PingdomToken     Secret // PINGDOM_TOKEN (an API 3.1 token, read access)
	DatabaseURL      Secret // OPSBOT_DATABASE_URL (PostgreSQL DSN; may hold a password)

	SlackAPIURL      string // OPSBOT_SLACK_API_URL
	GitHubAPIURL     string // OPSBOT_GITHUB_API_URL (also GitHub Enterprise Server)
	PagerDutyAPIURL  string // OPSBOT_PAGERDUTY_API_URL
	StatuspageAPIURL string // OPSBOT_STATUSPAGE_API_URL
	SentryAPIURL     string // OPSBOT_SENTRY_API_URL (a regional or self-hosted Sentry)
	NewRelicAPIURL   string // OPSBOT_NEWRELIC_API_URL (e.g. https://api.eu.newrelic.com for EU accounts)
	PingdomAPIURL    string // OPSBOT_PINGDOM_API_URL
	AWSEndpointURL   string // AWS_ENDPOINT_URL (the AWS SDK's own override; opsbot passes it on)
}

// EnvVars lists every variable opsbot reads, for documentation and config check.
var EnvVars = []string{
	"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "GITHUB_TOKEN", "PAGERDUTY_TOKEN", "STATUSPAGE_API_KEY",
	"SENTRY_TOKEN", "NEWRELIC_API_KEY", "PINGDOM_TOKEN",
	"OPSBOT_DATABASE_URL", "OPSBOT_SLACK_API_URL", "OPSBOT_GITHUB_API_URL", "OPSBOT_PAGERDUTY_API_URL",
	"OPSBOT_STATUSPAGE_API_URL", "OPSBOT_SENTRY_API_URL", "OPSBOT_NEWRELIC_API_URL", "OPSBOT_PINGDOM_API_URL",
	"AWS_ENDPOINT_URL",
}

func knownEnvVar(name string) bool {
	for _, v := range EnvVars {
		if v == name {
			return true
		}
	}
	return false
}

// withSandboxDefaults looks a variable up in the environment, then in the sandbox section.
func withSandboxDefaults(getenv func(string) string, defaults map[string]string) func(string) string {
	return func(name string) string {
		if getenv != nil {
			if v := getenv(name); v != "" {
				return v
			}
		}
		return defaults[name]
	}
}

func readEnv(getenv func(string) string) Env {
	return Env{
		SlackAppToken:    NewSecret(getenv("SLACK_APP_TOKEN")),
		SlackBotToken:    NewSecret(getenv("SLACK_BOT_TOKEN")),
		GitHubToken:      NewSecret(getenv("GITHUB_TOKEN")),
		PagerDutyToken:   NewSecret(getenv("PAGERDUTY_TOKEN")),
		StatuspageAPIKey: NewSecret(getenv("STATUSPAGE_API_KEY")),
		SentryToken:      NewSecret(getenv("SENTRY_TOKEN")),
		NewRelicAPIKey:   NewSecret(getenv("NEWRELIC_API_KEY")),
		PingdomToken:     NewSecret(getenv("PINGDOM_TOKEN")),
		DatabaseURL:      NewSecret(getenv("OPSBOT_DATABASE_URL")),
		SlackAPIURL:      getenv("OPSBOT_SLACK_API_URL"),
		GitHubAPIURL:     getenv("OPSBOT_GITHUB_API_URL"),
		PagerDutyAPIURL:  getenv("OPSBOT_PAGERDUTY_API_URL"),
		StatuspageAPIURL: getenv("OPSBOT_STATUSPAGE_API_URL"),
		SentryAPIURL:     getenv("OPSBOT_SENTRY_API_URL"),
		NewRelicAPIURL:   getenv("OPSBOT_NEWRELIC_API_URL"),
		PingdomAPIURL:    getenv("OPSBOT_PINGDOM_API_URL"),
		AWSEndpointURL:   getenv("AWS_ENDPOINT_URL"),
	}
}

// CheckEnv reports what is wrong with the environment for `opsbot serve`: missing or
// malformed Slack tokens and endpoint URLs that do not parse.
func (c *Config) CheckEnv() Problems {
	var ps Problems
	bad := func(name, format string, args ...any) {
		ps = append(ps, Problem{File: "environment", Setting: name, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case c.Env.SlackAppToken.Empty():
		bad("SLACK_APP_TOKEN", "required: an app-level token (xapp-…) with the connections:write scope")
	case !strings.HasPrefix(c.Env.SlackAppToken.Reveal(), "xapp-"):
		bad("SLACK_APP_TOKEN", "is not an app-level token (it should start with xapp-)")
	}
	switch {
	case c.Env.SlackBotToken.Empty():
		bad("SLACK_BOT_TOKEN", "required: the bot token (xoxb-…) from OAuth & Permissions")
	case !strings.HasPrefix(c.Env.SlackBotToken.Reveal(), "xoxb-"):
		bad("SLACK_BOT_TOKEN", "is not a bot token (it should start with xoxb-)")
	}
	for name, u := range map[string]string{
		"OPSBOT_SLACK_API_URL":      c.Env.SlackAPIURL,
		"OPSBOT_GITHUB_API_URL":     c.Env.GitHubAPIURL,
		"OPSBOT_PAGERDUTY_API_URL":  c.Env.PagerDutyAPIURL,
		"OPSBOT_STATUSPAGE_API_URL": c.Env.StatuspageAPIURL,
		"OPSBOT_SENTRY_API_URL":     c.Env.SentryAPIURL,
		"OPSBOT_NEWRELIC_API_URL":   c.Env.NewRelicAPIURL,
		"OPSBOT_PINGDOM_API_URL":    c.Env.PingdomAPIURL,
		"AWS_ENDPOINT_URL":          c.Env.AWSEndpointURL,
	} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad(name, "%q is not an http(s) URL", u)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Setting < ps[j].Setting })
	return ps
}

// IntegrationState says how an integration will be reached.
type IntegrationState string

// Integration states shown by config check and logged once at start-up.
const (
	Configured IntegrationState = "configured" // a real vendor endpoint with credentials
	Sandboxed  IntegrationState = "sandboxed"  // pointed at a loopback fake (opsbot sandbox)
	Absent     IntegrationState = "absent"     // not configured: its steps are skipped or refused, visibly
)

// Integration is one vendor and how opsbot will reach it.
type Integration struct {
	Name   string
	State  IntegrationState
	Reason string // what is missing, or where it points
	// Endpoint is the base URL its client calls when it is configured or sandboxed ("" for AWS
	// without AWS_ENDPOINT_URL: the SDK picks each service's endpoint).
	Endpoint string
}

// Integrations reports each integration's state.
func (c *Config) Integrations() []Integration {
	return []Integration{
		integration("slack", c.Env.SlackAPIURL, "https://slack.com/api/", !c.Env.SlackBotToken.Empty(), "SLACK_BOT_TOKEN"),
		integration("github", c.Env.GitHubAPIURL, "https://api.github.com/", !c.Env.GitHubToken.Empty() && c.GitHub.Repository != "", "GITHUB_TOKEN"),
		c.awsIntegration(),
		integration("sentry", c.Env.SentryAPIURL, "https://sentry.io/", !c.Env.SentryToken.Empty(), "SENTRY_TOKEN"),
		integration("newrelic", c.Env.NewRelicAPIURL, "https://api.newrelic.com/", !c.Env.NewRelicAPIKey.Empty(), "NEWRELIC_API_KEY"),
		integration("pingdom", c.Env.PingdomAPIURL, "https://api.pingdom.com/", !c.Env.PingdomToken.Empty(), "PINGDOM_TOKEN"),
	}
}

// awsIntegration says how AWS is reached. Its credentials come from the AWS SDK's own chain,
// which only AWS can judge, so AWS counts as configured as soon as a verification check reads
// it; AWS_ENDPOINT_URL on loopback is the sandbox.
func (c *Config) awsIntegration() Integration {
	switch used := slices.ContainsFunc(c.EnvironmentNames(), func(name string) bool {
		v := c.Deploy.Environments[name].Verification
		return v != nil && v.UsesAWS()
	}); {
	case !used:
		return Integration{Name: "aws", State: Absent, Reason: "no verification check reads AWS"}
	case c.Env.AWSEndpointURL == "":
		return Integration{Name: "aws", State: Configured, Reason: "the AWS SDK's default endpoints and credential chain"}
	case isLoopback(c.Env.AWSEndpointURL):
		return Integration{Name: "aws", State: Sandboxed, Reason: c.Env.AWSEndpointURL, Endpoint: c.Env.AWSEndpointURL}
	}
	return Integration{Name: "aws", State: Configured, Reason: c.Env.AWSEndpointURL + ", with the AWS SDK's credential chain",
		Endpoint: c.Env.AWSEndpointURL}
}

func integration(name, override, def string, credentialed bool, secretName string) Integration {
	endpoint := def
	if override != "" {
		endpoint = override
	}
	switch {
	case !credentialed:
		return Integration{Name: name, State: Absent, Reason: secretName + " is not set"}
	case isLoopback(endpoint):
		return Integration{Name: name, State: Sandboxed, Reason: endpoint, Endpoint: endpoint}
	default:
		return Integration{Name: name, State: Configured, Reason: endpoint, Endpoint: endpoint}
	}
}

func isLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
