package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/config"
)

// withProduction is the minimal configuration with production's settings given as YAML lines
// indented under it.
func withProduction(settings string) string {
	return minimal + "deploy:\n  environments:\n    production:\n" + settings
}

func TestVerificationTakesItsDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("opsbot.yaml", []byte(withProduction(`      auto_rollback: true
      verification:
        health: {url: https://analytics.example.com/health}
        logs: {group: /analytics/production}
        response_time: {load_balancer: app/analytics/50dc6c495c0c9188}
        cpu: {auto_scaling_group: analytics}
        cache: {cluster: analytics-cache-001}
        sentry: {org: acme, project_id: 42}
        newrelic: {account_id: 7, app: analytics}
`)), noEnv)
	require.NoError(t, err)

	prod := cfg.Deploy.Environments["production"]
	require.True(t, prod.AutoRollback)
	v := prod.Verification
	require.Equal(t, 10*time.Minute, v.Window.Std())
	require.Equal(t, 30*time.Second, v.Interval.Std())
	require.Equal(t, "ERROR", v.Logs.Pattern)
	require.Equal(t, 10, *v.Logs.MaxErrors)
	require.Equal(t, time.Second, v.ResponseTime.MaxP95.Std())
	require.Equal(t, 50, v.ResponseTime.MaxIncrease)
	require.InDelta(t, 80.0, v.CPU.Max, 0)
	require.InDelta(t, 0.9, v.Cache.MinHitRate, 0)
	require.Equal(t, 25, v.Sentry.MaxIncrease)
	require.Equal(t, time.Second, v.NewRelic.MaxP95.Std())
	require.Nil(t, v.Pingdom, "a check left out stays out")
	require.True(t, v.UsesAWS())

	withoutAWS := &config.Verification{Health: &config.HealthCheck{URL: "https://analytics.example.com/health"}}
	require.False(t, withoutAWS.UsesAWS(), "a health URL is asked over plain HTTP")
}

func TestVerificationProblemsNameTheirLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		settings string
		want     string
	}{
		{"auto_rollback with nothing to verify", "      auto_rollback: true\n",
			"opsbot.yaml:12: deploy.environments.production.auto_rollback: needs a verification block"},
		{"a window shorter than its interval", "      verification:\n        window: 10s\n        interval: 30s\n",
			"opsbot.yaml:13: deploy.environments.production.verification.window: the window (10s) is shorter than one interval (30s)"},
		{"a target group that is no ARN", "      verification:\n        health:\n          target_groups: [analytics-web]\n",
			`opsbot.yaml:14: deploy.environments.production.verification.health.target_groups[0]: "analytics-web" is not a target group ARN`},
		{"a health URL that is no URL", "      verification:\n        health: {url: analytics.example.com/health}\n",
			`opsbot.yaml:13: deploy.environments.production.verification.health.url: "analytics.example.com/health" is not an http(s) URL`},
		{"logs without a group", "      verification:\n        logs: {pattern: ERROR}\n",
			"opsbot.yaml:13: deploy.environments.production.verification.logs.group: required: the CloudWatch Logs log group"},
		{"a hit rate that is a percentage", "      verification:\n        cache: {cluster: c, min_hit_rate: 90}\n",
			"opsbot.yaml:13: deploy.environments.production.verification.cache.min_hit_rate: 90 is not a ratio between 0 and 1"},
		{"Sentry without a project", "      verification:\n        sentry: {org: acme}\n",
			"opsbot.yaml:13: deploy.environments.production.verification.sentry.project_id: required"},
		{"an unknown check", "      verification:\n        datadog: {}\n",
			"opsbot.yaml:13: field datadog not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("opsbot.yaml", []byte(withProduction(tc.settings)), noEnv)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestVerificationIntegrations(t *testing.T) {
	t.Parallel()
	awsCheck := withProduction("      verification:\n        alarms: [analytics-5xx]\n")
	cases := []struct {
		name string
		yaml string
		env  map[string]string
		want map[string]config.IntegrationState
	}{
		{"nothing reads AWS, no monitoring tokens", minimal, nil, map[string]config.IntegrationState{
			"aws": config.Absent, "sentry": config.Absent, "newrelic": config.Absent, "pingdom": config.Absent,
		}},
		{"AWS through the SDK's own chain", awsCheck, nil, map[string]config.IntegrationState{"aws": config.Configured}},
		{"the sandbox", awsCheck, map[string]string{
			"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "SENTRY_TOKEN": "sntryu_1", "OPSBOT_SENTRY_API_URL": "http://127.0.0.1:4567/sentry",
			"NEWRELIC_API_KEY": "NRAK-1", "OPSBOT_NEWRELIC_API_URL": "http://127.0.0.1:4567/newrelic",
			"PINGDOM_TOKEN": "p", "OPSBOT_PINGDOM_API_URL": "http://127.0.0.1:4567/pingdom",
		}, map[string]config.IntegrationState{
			"aws": config.Sandboxed, "sentry": config.Sandboxed, "newrelic": config.Sandboxed, "pingdom": config.Sandboxed,
		}},
		{"real monitoring", minimal, map[string]string{"SENTRY_TOKEN": "sntryu_1", "NEWRELIC_API_KEY": "NRAK-1", "PINGDOM_TOKEN": "p"},
			map[string]config.IntegrationState{"sentry": config.Configured, "newrelic": config.Configured, "pingdom": config.Configured}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse("opsbot.yaml", []byte(tc.yaml), func(k string) string { return tc.env[k] })
			require.NoError(t, err)
			states := map[string]config.IntegrationState{}
			for _, in := range cfg.Integrations() {
				states[in.Name] = in.State
			}
			for name, want := range tc.want {
				require.Equal(t, want, states[name], name)
			}
		})
	}
}
