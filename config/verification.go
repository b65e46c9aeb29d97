package config

import (
	"fmt"
	"strings"
	"time"
)

// PostDeployment is what happens in an environment after its production workflow succeeded:
// the verification that proves the deploy healthy, and whether a deploy that fails it is rolled
// back at once. It is inlined in Environment, so both settings sit at the environment's level.
type PostDeployment struct {
	// Verification lists the checks and how long they are watched; nil: no checks (the deploy
	// is recorded as successful, saying that nothing was checked).
	Verification *Verification `yaml:"verification"`
	// AutoRollback starts a rollback to the last stable version as soon as a deploy fails
	// verification, instead of offering a Roll back button.
	AutoRollback bool `yaml:"auto_rollback"`
}

// Verification is the runbook's post-deployment verification for one environment. Each check
// is enabled by its block; a check whose integration is not configured shows as skipped.
type Verification struct {
	// Window is how long the checks are watched after the workflow succeeded (default 10m).
	Window Duration `yaml:"window"`
	// Interval is the time between two samples of every check (default 30s).
	Interval Duration `yaml:"interval"`

	Health       *HealthCheck       `yaml:"health"`
	Logs         *LogsCheck         `yaml:"logs"`
	Alarms       []string           `yaml:"alarms"` // CloudWatch alarm names: none in ALARM, none missing
	ResponseTime *ResponseTimeCheck `yaml:"response_time"`
	CPU          *CPUCheck          `yaml:"cpu"`
	Cache        *CacheCheck        `yaml:"cache"`
	Sentry       *SentryCheck       `yaml:"sentry"`
	NewRelic     *NewRelicCheck     `yaml:"newrelic"`
	Pingdom      *PingdomCheck      `yaml:"pingdom"`
}

// HealthCheck: every target of the load balancer's target groups is healthy, and the
// application's health URL answers 2xx.
type HealthCheck struct {
	TargetGroups []string `yaml:"target_groups"` // ELBv2 target group ARNs
	URL          string   `yaml:"url"`           // e.g. https://analytics.example.com/health
}

// LogsCheck: the log group holds at most MaxErrors events matching Pattern since the deploy
// started.
type LogsCheck struct {
	Group     string `yaml:"group"`      // CloudWatch Logs log group name
	Pattern   string `yaml:"pattern"`    // a CloudWatch Logs filter pattern (default ERROR)
	MaxErrors *int   `yaml:"max_errors"` // default 10
}

// ResponseTimeCheck: the load balancer's TargetResponseTime p95 since the deploy is at most
// MaxP95, and at most MaxIncrease percent above the same window before the deploy.
type ResponseTimeCheck struct {
	LoadBalancer string   `yaml:"load_balancer"` // the AWS/ApplicationELB LoadBalancer dimension, app/NAME/ID
	MaxP95       Duration `yaml:"max_p95"`       // default 1s
	MaxIncrease  int      `yaml:"max_increase"`  // percent; default 50
}

// CPUCheck: the Auto Scaling group's average CPUUtilization since the deploy is at most Max
// percent, and at most MaxIncrease percent above the same window before the deploy.
type CPUCheck struct {
	AutoScalingGroup string  `yaml:"auto_scaling_group"` // the AWS/EC2 AutoScalingGroupName dimension
	Max              float64 `yaml:"max"`                // percent; default 80
	MaxIncrease      int     `yaml:"max_increase"`       // percent; default 50
}

// CacheCheck: the ElastiCache cluster's hit ratio, hits / (hits + misses) since the deploy, is
// at least MinHitRate.
type CacheCheck struct {
	Cluster    string  `yaml:"cluster"`      // the AWS/ElastiCache CacheClusterId dimension
	MinHitRate float64 `yaml:"min_hit_rate"` // between 0 and 1; default 0.9
}

// SentryCheck: the project's error events since the deploy are at most MaxIncrease percent
// above the same window before it (the token is SENTRY_TOKEN).
type SentryCheck struct {
	Org         string `yaml:"org"`          // the organisation slug
	ProjectID   int64  `yaml:"project_id"`   // the numeric project ID
	MaxIncrease int    `yaml:"max_increase"` // percent; default 25
}

// NewRelicCheck: the APM application's response time p95 since the deploy is at most MaxP95,
// and at most MaxIncrease percent above the same window before it (the key is NEWRELIC_API_KEY).
type NewRelicCheck struct {
	AccountID   int      `yaml:"account_id"`
	App         string   `yaml:"app"`          // the APM application name
	MaxP95      Duration `yaml:"max_p95"`      // default 1s
	MaxIncrease int      `yaml:"max_increase"` // percent; default 50
}

// PingdomCheck: the uptime check is up (the token is PINGDOM_TOKEN).
type PingdomCheck struct {
	CheckID int `yaml:"check_id"`
}

// Verification defaults, each chosen as the runbook's "watch it for a while" made concrete.
const (
	defaultWindow    = 10 * time.Minute // long enough for a cache to warm and a slow leak to show
	defaultInterval  = 30 * time.Second // CloudWatch's standard metrics arrive once a minute
	minInterval      = time.Second      // below it, a sample could not finish before the next
	defaultPattern   = "ERROR"
	defaultMaxErrors = 10
	defaultMaxP95    = time.Second
	// defaultIncrease tolerates the wobble of a fresh deploy (cold caches, JIT) but not a step.
	defaultIncrease       = 50
	defaultSentryIncrease = 25
	defaultMaxCPU         = 80.0
	defaultMinHitRate     = 0.9
)

// UsesAWS reports whether any check reads AWS.
func (v *Verification) UsesAWS() bool {
	return v.Health != nil && len(v.Health.TargetGroups) > 0 || v.Logs != nil || len(v.Alarms) > 0 ||
		v.ResponseTime != nil || v.CPU != nil || v.Cache != nil
}

// preparePostDeployment fills in each environment's verification defaults and reports its
// problems.
func (c *Config) preparePostDeployment() Problems {
	var ps Problems
	bad := func(path, format string, args ...any) {
		ps = append(ps, Problem{File: c.Path, Line: c.line(path), Setting: path, Message: fmt.Sprintf(format, args...)})
	}
	for _, name := range c.EnvironmentNames() {
		env := c.Deploy.Environments[name]
		path := "deploy.environments." + name
		v := env.Verification
		if v == nil {
			if env.AutoRollback {
				bad(path+".auto_rollback", "needs a verification block: without checks no deploy can fail verification")
			}
			continue
		}
		v.applyDefaults()
		v.check(path+".verification", bad)
	}
	return ps
}

func (v *Verification) applyDefaults() {
	setDuration(&v.Window, defaultWindow)
	setDuration(&v.Interval, defaultInterval)
	if l := v.Logs; l != nil {
		setDefault(&l.Pattern, defaultPattern)
		if l.MaxErrors == nil {
			n := defaultMaxErrors
			l.MaxErrors = &n
		}
	}
	if r := v.ResponseTime; r != nil {
		setDuration(&r.MaxP95, defaultMaxP95)
		setInt(&r.MaxIncrease, defaultIncrease)
	}
	if c := v.CPU; c != nil {
		if c.Max == 0 {
			c.Max = defaultMaxCPU
		}
		setInt(&c.MaxIncrease, defaultIncrease)
	}
	if c := v.Cache; c != nil && c.MinHitRate == 0 {
		c.MinHitRate = defaultMinHitRate
	}
	if s := v.Sentry; s != nil {
		setInt(&s.MaxIncrease, defaultSentryIncrease)
	}
	if n := v.NewRelic; n != nil {
		setDuration(&n.MaxP95, defaultMaxP95)
		setInt(&n.MaxIncrease, defaultIncrease)
	}
}

func (v *Verification) check(path string, bad func(path, format string, args ...any)) {
	switch {
	case v.Interval.Std() < minInterval:
		bad(path+".interval", "an interval under %s would start a sample before the last one finished", minInterval)
	case v.Window.Std() < v.Interval.Std():
		bad(path+".window", "the window (%s) is shorter than one interval (%s)", v.Window.Std(), v.Interval.Std())
	case v.Window.Std() > 24*time.Hour:
		bad(path+".window", "a window over 24h holds the environment's lock for too long")
	}
	if h := v.Health; h != nil {
		if len(h.TargetGroups) == 0 && h.URL == "" {
			bad(path+".health", "give target_groups, url or both")
		}
		for i, arn := range h.TargetGroups {
			if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":targetgroup/") {
				bad(fmt.Sprintf("%s.health.target_groups[%d]", path, i), "%q is not a target group ARN (arn:aws:elasticloadbalancing:…:targetgroup/NAME/ID)", arn)
			}
		}
		if h.URL != "" && !isHTTPURL(h.URL) {
			bad(path+".health.url", "%q is not an http(s) URL", h.URL)
		}
	}
	required := func(setting, value, what string) {
		if value == "" {
			bad(path+"."+setting, "required: %s", what)
		}
	}
	if l := v.Logs; l != nil {
		required("logs.group", l.Group, "the CloudWatch Logs log group")
		if *l.MaxErrors < 0 {
			bad(path+".logs.max_errors", "cannot be negative")
		}
	}
	for i, name := range v.Alarms {
		if strings.TrimSpace(name) == "" {
			bad(fmt.Sprintf("%s.alarms[%d]", path, i), "an alarm name cannot be empty")
		}
	}
	if r := v.ResponseTime; r != nil {
		required("response_time.load_balancer", r.LoadBalancer, "the load balancer's dimension, app/NAME/ID")
		notNegative(path+".response_time.max_increase", r.MaxIncrease, bad)
	}
	if c := v.CPU; c != nil {
		required("cpu.auto_scaling_group", c.AutoScalingGroup, "the Auto Scaling group's name")
		if c.Max <= 0 || c.Max > 100 {
			bad(path+".cpu.max", "%v is not a percentage between 0 and 100", c.Max)
		}
		notNegative(path+".cpu.max_increase", c.MaxIncrease, bad)
	}
	if c := v.Cache; c != nil {
		required("cache.cluster", c.Cluster, "the ElastiCache CacheClusterId")
		if c.MinHitRate <= 0 || c.MinHitRate > 1 {
			bad(path+".cache.min_hit_rate", "%v is not a ratio between 0 and 1 (e.g. 0.9)", c.MinHitRate)
		}
	}
	if s := v.Sentry; s != nil {
		required("sentry.org", s.Org, "the Sentry organisation's slug")
		if s.ProjectID <= 0 {
			bad(path+".sentry.project_id", "required: the project's numeric ID (Settings → Projects → the project's ID)")
		}
		notNegative(path+".sentry.max_increase", s.MaxIncrease, bad)
	}
	if n := v.NewRelic; n != nil {
		required("newrelic.app", n.App, "the APM application's name")
		if n.AccountID <= 0 {
			bad(path+".newrelic.account_id", "required: the New Relic account ID")
		}
		notNegative(path+".newrelic.max_increase", n.MaxIncrease, bad)
	}
	if p := v.Pingdom; p != nil && p.CheckID <= 0 {
		bad(path+".pingdom.check_id", "required: the Pingdom check's ID")
	}
}

func notNegative(path string, percent int, bad func(path, format string, args ...any)) {
	if percent < 0 {
		bad(path, "a percentage cannot be negative")
	}
}

func setDuration(d *Duration, v time.Duration) {
	if *d == 0 {
		*d = Duration(v)
	}
}

func setInt(n *int, v int) {
	if *n == 0 {
		*n = v
	}
}
