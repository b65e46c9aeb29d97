package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/config"
)

const withStakeholders = `
slack:
  deploys_channel: C0DEPLOYS
  stakeholders_channel: C0STAKE
roles:
  deployer:
    groups: [S0DEPLOYERS]
github:
  repository: acme/analytics
`

func TestIncidentSeveritiesHaveDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("opsbot.yaml", []byte(withStakeholders+`
incidents:
  severities:
    sev2:
      status_page: auto
      reminder: 0s
      stakeholders:
        channels: []
        groups: [S0EXECS]
`), noEnv)
	require.NoError(t, err)
	in := cfg.Incidents
	require.Equal(t, "inc-", in.ChannelPrefix)
	require.Equal(t, config.DeclareAnyone, in.Declare)
	require.Equal(t, "production", in.Environment)
	require.Equal(t, []string{"comms", "scribe"}, in.Roles)
	require.Equal(t, "incident", in.PagerDuty.Trigger)

	tests := []struct {
		level        int
		pages        bool
		statusPage   string
		component    string
		reminder     time.Duration
		channels     []string
		pdUpdate     bool
		stakeholders []string
	}{
		{1, true, config.PublishAuto, "major_outage", 15 * time.Minute, []string{"C0STAKE"}, true, nil},
		{2, true, config.PublishAuto, "partial_outage", 0, []string{}, true, []string{"S0EXECS"}},
		{3, false, config.PublishConfirm, "degraded_performance", time.Hour, nil, false, nil},
		{4, false, config.PublishOff, "degraded_performance", 0, nil, false, nil},
	}
	for _, tt := range tests {
		sev := in.Severity(tt.level)
		require.NotNil(t, sev)
		require.Equal(t, tt.level, sev.Level)
		require.Equal(t, tt.pages, sev.Pages(), "sev%d pages", tt.level)
		require.Equal(t, tt.statusPage, sev.StatusPage, "sev%d", tt.level)
		require.Equal(t, tt.component, sev.ComponentStatus, "sev%d", tt.level)
		require.Equal(t, tt.reminder, sev.ReminderEvery(), "sev%d: a setting given keeps its value, even 0s", tt.level)
		require.Equal(t, tt.channels, sev.Stakeholders.Channels, "sev%d: [] means nobody", tt.level)
		require.Equal(t, tt.stakeholders, sev.Stakeholders.Groups, "sev%d", tt.level)
		require.Equal(t, tt.pdUpdate, sev.PostsPagerDutyStatusUpdate(), "sev%d", tt.level)
	}
	require.Nil(t, in.Severity(5))
}

func TestIncidentProblemsNameTheirLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{
			name: "bad rules",
			yaml: withStakeholders + `
incidents:
  declare: everybody
  channel_prefix: "INC "
  severities:
    sev1:
      status_page: maybe
      reminder: 10s
      stakeholders:
        channels: [stakeholders]
    sev5: {}
`,
			want: []string{
				`opsbot.yaml:12: incidents.declare: "everybody" is not anyone or a role`,
				`opsbot.yaml:13: incidents.channel_prefix: "INC " is not a channel name prefix`,
				`opsbot.yaml:16: incidents.severities.sev1.status_page: "maybe" is not auto, confirm, off`,
				`opsbot.yaml:17: incidents.severities.sev1.reminder: a reminder under 1m would nag`,
				`opsbot.yaml:19: incidents.severities.sev1.stakeholders.channels[0]: "stakeholders" is not a Slack channel ID`,
				`opsbot.yaml:20: incidents.severities.sev5: unknown severity "sev5"`,
			},
		},
		{
			name: "vendors without their settings",
			yaml: withStakeholders + `
incidents:
  pagerduty:
    trigger: event
`,
			env: map[string]string{"PAGERDUTY_TOKEN": "t", "STATUSPAGE_API_KEY": "k"},
			want: []string{
				"incidents.pagerduty.service_id: required with PAGERDUTY_TOKEN",
				"incidents.pagerduty.from: required with PAGERDUTY_TOKEN",
				"incidents.pagerduty.routing_key: required when trigger is event",
				"incidents.statuspage.page_id: required with STATUSPAGE_API_KEY",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("opsbot.yaml", []byte(tt.yaml), func(k string) string { return tt.env[k] })
			require.Error(t, err)
			for _, want := range tt.want {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestIncidentIntegrations(t *testing.T) {
	t.Parallel()
	incidents := withStakeholders + `
incidents:
  pagerduty: {service_id: PSANDBOX, from: opsbot@example.com}
  statuspage: {page_id: sandboxpage}
`
	tests := []struct {
		name       string
		env        map[string]string
		pagerduty  config.IntegrationState
		statuspage config.IntegrationState
	}{
		{"absent", map[string]string{}, config.Absent, config.Absent},
		{"real", map[string]string{"PAGERDUTY_TOKEN": "t", "STATUSPAGE_API_KEY": "k"}, config.Configured, config.Configured},
		{"sandbox", map[string]string{
			"PAGERDUTY_TOKEN": "t", "OPSBOT_PAGERDUTY_API_URL": "http://127.0.0.1:4002/rest",
			"STATUSPAGE_API_KEY": "k", "OPSBOT_STATUSPAGE_API_URL": "http://127.0.0.1:4003/v1",
		}, config.Sandboxed, config.Sandboxed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse("opsbot.yaml", []byte(incidents), func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			states := map[string]config.IntegrationState{}
			for _, in := range cfg.IncidentIntegrations() {
				states[in.Name] = in.State
			}
			require.Equal(t, tt.pagerduty, states["pagerduty"])
			require.Equal(t, tt.statuspage, states["statuspage"])
		})
	}
}
