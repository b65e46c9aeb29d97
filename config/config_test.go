package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/config"
)

const minimal = `
slack:
  deploys_channel: C0DEPLOYS
roles:
  deployer:
    groups: [S0DEPLOYERS]
github:
  repository: acme/analytics
`

func noEnv(string) string { return "" }

func TestParseAppliesDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("opsbot.yaml", []byte(minimal), noEnv)
	require.NoError(t, err)

	require.Equal(t, "sqlite", cfg.Store.Driver)
	require.Equal(t, "./opsbot.db", cfg.Store.Path)
	require.Equal(t, 30*time.Second, cfg.Store.Lease.Std())
	require.Equal(t, "develop", cfg.GitHub.DevelopBranch)
	require.Equal(t, "release/", cfg.GitHub.ReleaseBranchPrefix)
	require.Equal(t, "production", cfg.Deploy.DefaultEnvironment)
	prod := cfg.Deploy.Environments["production"]
	require.NotNil(t, prod)
	require.Equal(t, config.RoleProductOwner, prod.Approval)
	require.True(t, prod.ChecklistRequired())
}

func TestParseReportsEveryProblemWithItsLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string // each must appear in the error, in order
	}{
		{
			name: "unknown field",
			yaml: minimal + "colour: blue\n",
			want: []string{"opsbot.yaml:9: field colour not found"},
		},
		{
			name: "bad IDs and role",
			yaml: `
slack:
  deploys_channel: deploys
roles:
  deployer:
    users: [alice]
  wizard:
    users: [U0ALICE]
github:
  repository: analytics
`,
			want: []string{
				`opsbot.yaml:3: slack.deploys_channel: "deploys" is not a Slack channel ID`,
				`opsbot.yaml:6: roles.deployer.users[0]: "alice" is not a Slack user ID`,
				`opsbot.yaml:7: roles.wizard: unknown role "wizard"`,
				`opsbot.yaml:10: github.repository: "analytics" is not owner/name`,
			},
		},
		{
			name: "bad duration",
			yaml: minimal + "store:\n  lease: soon\n",
			want: []string{`opsbot.yaml:10: "soon" is not a duration`},
		},
		{
			name: "postgres without DSN",
			yaml: minimal + "store:\n  driver: postgres\n",
			want: []string{"opsbot.yaml:10: store.driver: postgres needs its DSN in the environment variable OPSBOT_DATABASE_URL"},
		},
		{
			name: "default environment not configured",
			yaml: minimal + "deploy:\n  default_environment: prod\n  environments:\n    production: {}\n",
			want: []string{`opsbot.yaml:10: deploy.default_environment: "prod" is not one of deploy.environments (production)`},
		},
		{
			name: "soak without environment",
			yaml: minimal + "deploy:\n  environments:\n    production:\n      soak:\n        duration: 24h\n",
			want: []string{"opsbot.yaml:12: deploy.environments.production.soak.environment: required"},
		},
		{
			name: "nobody may deploy",
			yaml: "slack:\n  deploys_channel: C0DEPLOYS\ngithub:\n  repository: acme/analytics\n",
			want: []string{"opsbot.yaml: roles.deployer: nobody may deploy"},
		},
		{
			name: "not yaml",
			yaml: "slack: [\n",
			want: []string{"opsbot.yaml:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("opsbot.yaml", []byte(tt.yaml), noEnv)
			require.Error(t, err)
			var ps config.Problems
			require.True(t, errors.As(err, &ps), "error %T is not Problems", err)
			text := err.Error()
			rest := text
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				require.GreaterOrEqual(t, i, 0, "want %q in\n%s", w, text)
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SLACK_BOT_TOKEN": "xoxb-very-secret", "SLACK_APP_TOKEN": "xapp-also-secret"}
	cfg, err := config.Parse("opsbot.yaml", []byte(minimal), func(k string) string { return env[k] })
	require.NoError(t, err)

	require.Equal(t, "xoxb-very-secret", cfg.Env.SlackBotToken.Reveal())
	for _, out := range []string{
		fmt.Sprintf("%v", cfg.Env), fmt.Sprintf("%+v", cfg.Env), fmt.Sprintf("%#v", cfg.Env), cfg.Env.SlackBotToken.String(),
	} {
		require.NotContains(t, out, "very-secret")
		require.NotContains(t, out, "also-secret")
	}
}

func TestCheckEnvAndIntegrations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		problems []string
		slack    config.IntegrationState
		github   config.IntegrationState
	}{
		{
			name:     "nothing set",
			env:      map[string]string{},
			problems: []string{"SLACK_APP_TOKEN: required", "SLACK_BOT_TOKEN: required"},
			slack:    config.Absent, github: config.Absent,
		},
		{
			name:     "tokens swapped",
			env:      map[string]string{"SLACK_APP_TOKEN": "xoxb-1", "SLACK_BOT_TOKEN": "xapp-1"},
			problems: []string{"SLACK_APP_TOKEN: is not an app-level token", "SLACK_BOT_TOKEN: is not a bot token"},
			slack:    config.Configured, github: config.Absent,
		},
		{
			name: "sandbox",
			env: map[string]string{
				"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "xoxb-1", "GITHUB_TOKEN": "ghp_1",
				"OPSBOT_SLACK_API_URL": "http://127.0.0.1:4000/api/", "OPSBOT_GITHUB_API_URL": "http://localhost:4001/",
			},
			slack: config.Sandboxed, github: config.Sandboxed,
		},
		{
			name:     "bad endpoint",
			env:      map[string]string{"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "xoxb-1", "OPSBOT_GITHUB_API_URL": "api.github.com"},
			problems: []string{`OPSBOT_GITHUB_API_URL: "api.github.com" is not an http(s) URL`},
			slack:    config.Configured, github: config.Absent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse("opsbot.yaml", []byte(minimal), func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			ps := cfg.CheckEnv()
			require.Len(t, ps, len(tt.problems), ps.Error())
			for i, want := range tt.problems {
				require.Contains(t, ps[i].String(), want)
			}
			states := map[string]config.IntegrationState{}
			for _, in := range cfg.Integrations() {
				states[in.Name] = in.State
			}
			require.Equal(t, tt.slack, states["slack"])
			require.Equal(t, tt.github, states["github"])
		})
	}
}

func TestSandboxEnvIsADefaultForLoopbackOnly(t *testing.T) {
	t.Parallel()
	sandboxed := minimal + `
sandbox:
  env:
    SLACK_BOT_TOKEN: xoxb-sandbox
    OPSBOT_SLACK_API_URL: http://127.0.0.1:4000/api/
`
	cfg, err := config.Parse("opsbot.yaml", []byte(sandboxed), noEnv)
	require.NoError(t, err)
	require.Equal(t, "xoxb-sandbox", cfg.Env.SlackBotToken.Reveal())
	require.Equal(t, "http://127.0.0.1:4000/api/", cfg.Env.SlackAPIURL)

	cfg, err = config.Parse("opsbot.yaml", []byte(sandboxed), func(k string) string {
		return map[string]string{"SLACK_BOT_TOKEN": "xoxb-real"}[k]
	})
	require.NoError(t, err)
	require.Equal(t, "xoxb-real", cfg.Env.SlackBotToken.Reveal(), "the real environment wins")

	_, err = config.Parse("opsbot.yaml", []byte(minimal+"sandbox:\n  env:\n    OPSBOT_SLACK_API_URL: https://slack.com/api/\n    HOME: /root\n"), noEnv)
	require.ErrorContains(t, err, `opsbot.yaml:12: sandbox.env.HOME: HOME is not a variable opsbot reads`)
	require.ErrorContains(t, err, `opsbot.yaml:11: sandbox.env.OPSBOT_SLACK_API_URL: "https://slack.com/api/" is not a loopback URL`)
}
