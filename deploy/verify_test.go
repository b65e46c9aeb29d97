package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/deploy"
	opsaws "github.com/opsbot-dev/opsbot/integrations/aws"
	"github.com/opsbot-dev/opsbot/integrations/newrelic"
	"github.com/opsbot-dev/opsbot/integrations/pingdom"
	"github.com/opsbot-dev/opsbot/integrations/sentry"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
	"github.com/opsbot-dev/opsbot/sandbox/fakemonitoring"
	"github.com/opsbot-dev/opsbot/store"
)

// loadAWSModels reads the AWS models once per test process: the sandbox AWS speaks its wire
// protocols from them.
var loadAWSModels = sync.OnceValues(func() (*fakeaws.Models, error) {
	dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	if err != nil {
		return nil, err
	}
	return fakeaws.LoadModels(dir)
})

// newVerifiedWorld is a world whose production is verified against the sandbox's AWS account
// and monitoring, on the world's clock, with every check (window 1 min, a sample each 30 s).
// It skips the test when the AWS models are not there.
func newVerifiedWorld(t testing.TB, opts worldOptions) *testBundle {
	t.Helper()
	models, err := loadAWSModels()
	if errors.Is(err, apispec.ErrNotFound) {
		t.Skipf("skipping: %v (set OPSBOT_SPECS_DIR to the folder of vendor API descriptions)", err)
	}
	require.NoError(t, err)
	if opts.workflow == (worldOptions{}).workflow {
		opts.workflow = quickWorkflow
	}
	b := newBareWorld(t, opts)
	b.faults = fakeaws.NewFaults(b.clock)
	b.aws, err = fakeaws.New(fakeaws.Options{Models: models, Clock: b.clock, Faults: b.faults})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.aws.Close()) })
	b.monitoring, err = fakemonitoring.New(fakemonitoring.Options{Clock: b.clock, Faults: b.faults})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.monitoring.Close()) })
	b.configure(t, fmt.Sprintf(`      verification:
        window: 1m
        interval: 30s
        health:
          target_groups: [%q, %q]
          url: %q
        logs: {group: %q, max_errors: 2}
        alarms: [%q, %q]
        response_time: {load_balancer: %q, max_p95: 500ms}
        cpu: {auto_scaling_group: %q}
        cache: {cluster: %q}
        sentry: {org: %q, project_id: %d}
        newrelic: {account_id: %d, app: %q, max_p95: 500ms}
        pingdom: {check_id: %d}
`, fakeaws.WebTargetGroupARN, fakeaws.APITargetGroupARN, b.monitoring.HealthURL(), fakeaws.LogGroup,
		fakeaws.AlarmErrors, fakeaws.AlarmLatency, fakeaws.LoadBalancer, fakeaws.AutoScalingGroup, fakeaws.CacheCluster,
		fakemonitoring.SentryOrg, fakemonitoring.SentryProjectID, fakemonitoring.NewRelicAccountID, fakemonitoring.NewRelicApp,
		fakemonitoring.PingdomCheckID)+opts.production)
	return b
}

// addVerifiers gives a process of a verified world its AWS and monitoring clients.
func (b *testBundle) addVerifiers(t testing.TB, opts *deploy.Options, httpClient *http.Client) {
	t.Helper()
	opts.HTTP = httpClient
	if b.aws == nil {
		return
	}
	opts.AWS = opsaws.New(sdkaws.Config{
		Region: fakeaws.Region, BaseEndpoint: sdkaws.String(b.aws.URL()),
		Credentials: sdkaws.CredentialsProviderFunc(func(context.Context) (sdkaws.Credentials, error) {
			return sdkaws.Credentials{AccessKeyID: "sandbox", SecretAccessKey: "sandbox", Source: "test"}, nil
		}),
		// The runner retries a sample itself, later; the SDK's own retries would only hold it up.
		Retryer: func() sdkaws.Retryer { return sdkaws.NopRetryer{} },
	})
	var err error
	var s *sentry.Client
	s, err = sentry.New(b.monitoring.SentryURL(), fakemonitoring.SentryToken, httpClient)
	require.NoError(t, err)
	n, err := newrelic.New(b.monitoring.NewRelicURL(), fakemonitoring.NewRelicAPIKey, httpClient)
	require.NoError(t, err)
	p, err := pingdom.New(b.monitoring.PingdomURL(), fakemonitoring.PingdomToken, httpClient)
	require.NoError(t, err)
	opts.Sentry, opts.NewRelic, opts.Pingdom = s, n, p
}

// tableRow is the verification table's row for the check called name, its columns separated
// by single spaces, or "" when there is none.
func tableRow(card, name string) string {
	for _, line := range strings.Split(card, "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, "```"+name+" ") {
			return strings.Join(strings.Fields(strings.TrimPrefix(line, "```")), " ")
		}
	}
	return ""
}

// checkNames are the rows of the sandbox's verification table, in order.
var checkNames = []string{
	"Target health (2 groups)", "Health URL", "Errors in logs", "Alarms (2)", "TargetResponseTime p95",
	"CPUUtilization", "Cache hit rate", "Sentry errors vs before", "New Relic p95", "Pingdom",
}

func TestVerificationPassesEveryCheckAndRecordsTheDeploySuccessful(t *testing.T) {
	t.Parallel()
	b := newVerifiedWorld(t, worldOptions{})
	b.start(t, processHooks{})

	run := b.deployToProduction(t)

	require.Equal(t, store.RunSucceeded, run.State, describe(run))
	verification := run.StepByName("verification")
	require.Equal(t, store.StepPassed, verification.State)
	require.Equal(t, "10 checks passed over 1 min (3 samples)", verification.Detail)
	card := b.card(t, run.ID)
	require.Contains(t, card, "✅ v1.0.0 is deployed to production.")
	require.Equal(t, "Verification (1 min window) value threshold", tableRow(card, "Verification (1 min window)"))
	for name, want := range map[string]string{
		"Target health (2 groups)": "6/6 healthy all healthy ✅",
		"Health URL":               "200 OK 2xx ✅",
		"Errors in logs":           "0 ≤ 2 ✅",
		"Alarms (2)":               "none in ALARM none in ALARM or missing ✅",
		"TargetResponseTime p95":   "250 ms (+0 %) ≤ 500 ms, ≤ +50 % ✅",
		"CPUUtilization":           "35 % (+0 %) ≤ 80 %, ≤ +50 % ✅",
		"Cache hit rate":           "0.95 ≥ 0.90 ✅",
		"Sentry errors vs before":  "(+0 %) ≤ +25 % ✅",
		"New Relic p95":            "180 ms (+0 %) ≤ 500 ms, ≤ +50 % ✅",
		"Pingdom":                  "up up ✅",
	} {
		require.True(t, strings.HasSuffix(tableRow(card, name), want), "row %s: %q, want it to end %q", name, tableRow(card, name), want)
	}
	deployments := b.productionDeployments()
	require.Len(t, deployments, 1)
	require.Equal(t, []string{"in_progress", "success"}, deployStatuses(deployments[0]))
	require.Contains(t, shown(t, b.outbox(t, fmt.Sprintf("run:%d:checklist", run.ID))),
		"☑ Monitoring alerts have been configured — opsbot: 2 alarms configured: analytics-5xx, analytics-latency",
		"the alarms verification watches are the checklist's evidence")
}

func TestEachCheckFailsTheVerificationOnItsFault(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fault string
		// failing are the rows the fault can turn red; all says every one of them must be
		// red when the verification fails (the fault reaches them at once).
		failing []string
		all     bool
	}{
		{fakeaws.FaultHealthUnhealthy, []string{"Target health (2 groups)", "Health URL", "Pingdom"}, true},
		{fakeaws.FaultLogsErrors, []string{"Errors in logs"}, true},
		{fakeaws.FaultAlarmFiring, []string{"Alarms (2)"}, true},
		{fakeaws.FaultLatencyHigh, []string{"TargetResponseTime p95", "New Relic p95"}, false},
		{fakeaws.FaultCacheCold, []string{"Cache hit rate"}, true},
		{fakeaws.FaultSentrySpike, []string{"Sentry errors vs before"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.fault, func(t *testing.T) {
			t.Parallel()
			b := newVerifiedWorld(t, worldOptions{})
			b.start(t, processHooks{})
			approvedByCarol(t, b, b.cutRelease(t))
			run := b.startDeploy(t, alice, "")
			// The fault begins once the deploy is under way, as a bad release's would.
			b.drive(t, run.ID, stepIs("workflow", store.StepWaiting, store.WaitSystem), b.people(t))
			require.NoError(t, b.faults.Set(tc.fault))

			run = b.drive(t, run.ID, ended, b.people(t))

			require.Equal(t, store.RunFailed, run.State, describe(run))
			verification := run.StepByName("verification")
			require.Equal(t, store.StepFailed, verification.State)
			card := b.card(t, run.ID)
			require.Contains(t, card, "🔴 *v1.0.0 failed verification in production*: "+verification.Detail)
			for _, name := range checkNames {
				row := tableRow(card, name)
				failed := strings.HasSuffix(row, "❌")
				expected := slices.Contains(tc.failing, name)
				require.True(t, failed || strings.HasSuffix(row, "✅"), "row %q", row)
				if failed {
					require.True(t, expected, "%s is red under %q: %q", name, tc.fault, row)
				}
				if expected && tc.all {
					require.True(t, failed, "%s is not red under %q: %q", name, tc.fault, row)
				}
			}
			mentionsOne := false
			for _, name := range tc.failing {
				mentionsOne = mentionsOne || strings.Contains(verification.Detail, name)
			}
			require.True(t, mentionsOne, "the verdict names what failed: %s", verification.Detail)
			require.Equal(t, "production", buttonValue(t, b.outbox(t, fmt.Sprintf("run:%d:card", run.ID)), "deploy.rollback"),
				"the card offers a rollback of production")
			alert := b.outbox(t, fmt.Sprintf("run:%d:verification-failed", run.ID))
			require.True(t, strings.HasPrefix(shown(t, alert), "🚨 <@U0ALICE> @on_call v1.0.0 failed verification in production."),
				"the deployer and the on-call hear of it: %s", shown(t, alert))
			require.Equal(t, "production", buttonValue(t, alert, "deploy.rollback"))
			deployments := b.productionDeployments()
			require.Equal(t, []string{"in_progress", "failure"}, deployStatuses(deployments[0]))
		})
	}
}

func TestChecksWithoutTheirIntegrationAreSkippedNeverPassed(t *testing.T) {
	t.Parallel()
	b := newVerifiedWorld(t, worldOptions{})
	b.start(t, processHooks{options: func(o *deploy.Options) { o.Sentry, o.NewRelic, o.Pingdom = nil, nil, nil }})

	run := b.deployToProduction(t)

	require.Equal(t, store.RunSucceeded, run.State, describe(run))
	require.Equal(t, "7 checks passed over 1 min (3 samples); 3 not configured", run.StepByName("verification").Detail)
	card := b.card(t, run.ID)
	for name, want := range map[string]string{
		"Sentry errors vs before": "Sentry errors vs before not configured: no Sentry token ⏭",
		"New Relic p95":           "New Relic p95 not configured: no New Relic key ⏭",
		"Pingdom":                 "Pingdom not configured: no Pingdom token ⏭",
	} {
		require.Equal(t, want, tableRow(card, name))
	}
}

// flakyAWS fails its first n target-health reads as AWS does when it throttles.
type flakyAWS struct {
	deploy.AWS
	mu sync.Mutex
	n  int
}

func (f *flakyAWS) TargetHealth(ctx context.Context, arns []string) (opsaws.TargetHealth, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n > 0 {
		f.n--
		return opsaws.TargetHealth{}, &opsaws.Error{Err: context.DeadlineExceeded}
	}
	return f.AWS.TargetHealth(ctx, arns)
}

func TestASampleThatCannotBeReadIsTakenAgainNeverPassed(t *testing.T) {
	t.Parallel()
	b := newVerifiedWorld(t, worldOptions{})
	flaky := &flakyAWS{n: 2}
	b.start(t, processHooks{options: func(o *deploy.Options) { flaky.AWS = o.AWS; o.AWS = flaky }})
	approvedByCarol(t, b, b.cutRelease(t))
	run := b.startDeploy(t, alice, "")

	run = b.drive(t, run.ID, stepIs("verification", store.StepWaiting, store.WaitRetry), b.people(t))

	require.Contains(t, run.StepByName("verification").Detail, "retrying after an error: reading Target health (2 groups)")
	require.Empty(t, tableRow(b.card(t, run.ID), "Target health (2 groups)"), "nothing was read, so nothing is shown")
	run = b.drive(t, run.ID, ended, b.people(t))
	require.Equal(t, store.RunSucceeded, run.State, describe(run))
}
