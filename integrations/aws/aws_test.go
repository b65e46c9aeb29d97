package aws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	opsaws "github.com/opsbot-dev/opsbot/integrations/aws"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
)

var loadModels = sync.OnceValues(func() (*fakeaws.Models, error) {
	dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	if err != nil {
		return nil, err
	}
	return fakeaws.LoadModels(dir)
})

type testBundle struct {
	sandbox *fakeaws.Server
	clock   *clock.Offset
	client  *opsaws.Client
}

// setup points a Client at a sandbox AWS account with its own clock, or skips the test when the
// AWS models are not there.
func setup(t *testing.T) *testBundle {
	t.Helper()
	models, err := loadModels()
	if errors.Is(err, apispec.ErrNotFound) {
		t.Skipf("skipping: %v (set OPSBOT_SPECS_DIR to the folder of vendor API descriptions)", err)
	}
	require.NoError(t, err)
	c := clock.NewOffset()
	sandbox, err := fakeaws.New(fakeaws.Options{Models: models, Clock: c})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sandbox.Close()) })
	return &testBundle{sandbox: sandbox, clock: c, client: opsaws.New(config(sandbox.URL(), credentials))}
}

var credentials = sdkaws.CredentialsProviderFunc(func(context.Context) (sdkaws.Credentials, error) {
	return sdkaws.Credentials{AccessKeyID: "AKIASANDBOX", SecretAccessKey: "sandbox-secret", Source: "test"}, nil
})

func config(endpoint string, credentials sdkaws.CredentialsProvider) sdkaws.Config {
	return sdkaws.Config{
		Region:       fakeaws.Region,
		Credentials:  credentials,
		BaseEndpoint: sdkaws.String(endpoint),
		// The tests judge single attempts; the SDK's retries would only slow them down.
		Retryer: func() sdkaws.Retryer { return sdkaws.NopRetryer{} },
	}
}

func TestTargetHealthCountsHealthyTargetsAndListsTheOthers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	groups := []string{fakeaws.WebTargetGroupARN, fakeaws.APITargetGroupARN}

	health, err := b.client.TargetHealth(t.Context(), groups)
	require.NoError(t, err)
	require.Equal(t, opsaws.TargetHealth{Healthy: 6, Total: 6}, health)

	require.NoError(t, b.sandbox.Fault(fakeaws.FaultHealthUnhealthy))
	health, err = b.client.TargetHealth(t.Context(), groups)
	require.NoError(t, err)
	require.Equal(t, opsaws.TargetHealth{Healthy: 4, Total: 6, Unhealthy: []opsaws.Target{
		{ID: "i-0a1b2c3d4e5f60001", Port: 8080, State: "unhealthy", Reason: "Target.FailedHealthChecks"},
		{ID: "i-0a1b2c3d4e5f60004", Port: 9090, State: "unhealthy", Reason: "Target.FailedHealthChecks"},
	}}, health)
}

func TestCountLogEventsCountsMatchingEventsOnEveryPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.sandbox.Fault(fakeaws.FaultLogsErrors))
	deployed := b.clock.Now()
	b.clock.Advance(30 * time.Minute)

	cases := []struct {
		name     string
		pattern  string
		from, to time.Time
		want     int
	}{
		{"errors in the window before the deploy", "ERROR", deployed.Add(-31 * time.Minute), deployed.Add(-time.Minute), 0},
		{"errors since the deploy, over two pages", "ERROR", deployed, deployed.Add(30 * time.Minute), 90},
		{"every event since the deploy", "", deployed, deployed.Add(10 * time.Minute), 90},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			count, err := b.client.CountLogEvents(t.Context(), fakeaws.LogGroup, c.pattern, c.from, c.to)
			require.NoError(t, err)
			require.Equal(t, c.want, count)
		})
	}
}

func TestAlarmsReportsStatesAndMissingAlarms(t *testing.T) {
	t.Parallel()
	b := setup(t)
	names := []string{fakeaws.AlarmErrors, fakeaws.AlarmLatency, "analytics-disk-full"}

	states, missing, err := b.client.Alarms(t.Context(), names)
	require.NoError(t, err)
	require.Equal(t, map[string]string{fakeaws.AlarmErrors: opsaws.AlarmOK, fakeaws.AlarmLatency: opsaws.AlarmOK}, states)
	require.Equal(t, []string{"analytics-disk-full"}, missing)

	require.NoError(t, b.sandbox.Fault(fakeaws.FaultAlarmFiring))
	states, _, err = b.client.Alarms(t.Context(), names)
	require.NoError(t, err)
	require.Equal(t, opsaws.AlarmFiring, states[fakeaws.AlarmErrors])
}

func TestMetricsCompareTheWindowAfterADeployWithTheOneBefore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.sandbox.Fault(fakeaws.FaultLatencyHigh))
	require.NoError(t, b.sandbox.Fault(fakeaws.FaultCacheCold))
	faultsSet := b.clock.Now()
	b.clock.Advance(15 * time.Minute)
	// Whole-minute windows, so that no minute straddles the moment the faults were set.
	after := faultsSet.Truncate(time.Minute).Add(time.Minute)
	before := after.Add(-11 * time.Minute)

	latency := opsaws.MetricQuery{Namespace: "AWS/ApplicationELB", Name: "TargetResponseTime",
		Dimensions: map[string]string{"LoadBalancer": fakeaws.LoadBalancer}, Stat: "p95"}
	cpu := opsaws.MetricQuery{Namespace: "AWS/EC2", Name: "CPUUtilization",
		Dimensions: map[string]string{"AutoScalingGroupName": fakeaws.AutoScalingGroup}, Stat: "Average"}
	hitRate := opsaws.MetricQuery{Namespace: "AWS/ElastiCache", Name: "CacheHitRate",
		Dimensions: map[string]string{"CacheClusterId": fakeaws.CacheCluster}, Stat: "Average"}
	otherGroup := cpu
	otherGroup.Dimensions = map[string]string{"AutoScalingGroupName": "billing-production"}

	cases := []struct {
		name      string
		query     opsaws.MetricQuery
		from      time.Time
		want      float64
		wantFound bool
	}{
		{"p95 response time before", latency, before, fakeaws.TargetResponseTimeBaseline, true},
		{"p95 response time after", latency, after, fakeaws.TargetResponseTimeHigh, true},
		{"CPU before", cpu, before, fakeaws.CPUUtilizationBaseline, true},
		{"CPU after", cpu, after, fakeaws.CPUUtilizationBaseline, true},
		{"cache hit rate after", hitRate, after, fakeaws.CacheHitRateCold, true},
		{"a metric with other dimensions", otherGroup, after, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			value, found, err := b.client.Metric(t.Context(), c.query, c.from, c.from.Add(10*time.Minute))
			require.NoError(t, err)
			require.Equal(t, c.wantFound, found)
			require.Equal(t, c.want, value)
		})
	}

	t.Run("cache hit ratio from hits and misses", func(t *testing.T) {
		t.Parallel()
		cache := map[string]string{"CacheClusterId": fakeaws.CacheCluster}
		ratio, found, err := b.client.CacheHitRatio(t.Context(), cache, before, before.Add(10*time.Minute))
		require.NoError(t, err)
		require.True(t, found)
		require.InDelta(t, 0.95, ratio, 1e-9)
		ratio, found, err = b.client.CacheHitRatio(t.Context(), cache, after, after.Add(10*time.Minute))
		require.NoError(t, err)
		require.True(t, found)
		require.InDelta(t, 0.40, ratio, 1e-9)
	})
}

// awsQueryError answers every request with an ELBv2 error.
func awsQueryError(status int, code string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>no</Message></Error><RequestId>1</RequestId></ErrorResponse>", code)
	}
}

func TestErrorsSayWhetherTryingAgainMayHelp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	t.Cleanup(cancel)
	unsigned := opsaws.New(config(b.sandbox.URL(), sdkaws.AnonymousCredentials{}))
	answering := func(handler http.Handler) *opsaws.Client {
		srv := httptest.NewServer(handler)
		t.Cleanup(srv.Close)
		return opsaws.New(config(srv.URL, credentials))
	}
	targetHealth := func(c *opsaws.Client, ctx context.Context, arn string) func() error {
		return func() error { _, err := c.TargetHealth(ctx, []string{arn}); return err }
	}
	cases := []struct {
		name          string
		call          func() error
		wantTransient bool
		wantCode      string // the AWS error code, when AWS answered
	}{
		{"a missing target group", targetHealth(b.client, t.Context(), strings.Replace(fakeaws.WebTargetGroupARN, "analytics-web", "gone", 1)),
			false, "TargetGroupNotFound"},
		{"a missing log group", func() error {
			_, err := b.client.CountLogEvents(t.Context(), "/analytics/gone", "ERROR", time.Now().Add(-time.Hour), time.Now())
			return err
		}, false, "ResourceNotFoundException"},
		{"a log group name AWS refuses", func() error {
			_, err := b.client.CountLogEvents(t.Context(), "analytics production", "ERROR", time.Now().Add(-time.Hour), time.Now())
			return err
		}, false, "InvalidParameterException"},
		{"no credentials", targetHealth(unsigned, t.Context(), fakeaws.WebTargetGroupARN), false, "MissingAuthenticationToken"},
		{"an expired deadline", targetHealth(b.client, expired, fakeaws.WebTargetGroupARN), true, ""},
		{"AWS failing", targetHealth(answering(awsQueryError(http.StatusServiceUnavailable, "ServiceUnavailable")), t.Context(), fakeaws.WebTargetGroupARN),
			true, "ServiceUnavailable"},
		{"AWS throttling", targetHealth(answering(awsQueryError(http.StatusBadRequest, "Throttling")), t.Context(), fakeaws.WebTargetGroupARN),
			true, "Throttling"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.call()
			var awsErr *opsaws.Error
			require.ErrorAs(t, err, &awsErr)
			require.Equal(t, c.wantTransient, awsErr.Transient(), "error: %v", err)
			if c.wantCode != "" {
				var apiErr smithy.APIError
				require.ErrorAs(t, err, &apiErr)
				require.Equal(t, c.wantCode, apiErr.ErrorCode())
			}
		})
	}
}
