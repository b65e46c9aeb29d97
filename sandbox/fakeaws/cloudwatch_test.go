package fakeaws_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
)

func metricQuery(id, namespace, name, dimension, value, stat string, period time.Duration) cwtypes.MetricDataQuery {
	return cwtypes.MetricDataQuery{
		Id: aws.String(id),
		MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{
				Namespace:  aws.String(namespace),
				MetricName: aws.String(name),
				Dimensions: []cwtypes.Dimension{{Name: aws.String(dimension), Value: aws.String(value)}},
			},
			Period: aws.Int32(int32(period.Seconds())),
			Stat:   aws.String(stat),
		},
	}
}

func TestMetricsMoveWithTheirFaultsAfterTheyAreSet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.srv.Fault(fakeaws.FaultLatencyHigh))
	require.NoError(t, b.srv.Fault(fakeaws.FaultCacheCold))
	faultsSet := b.clock.Now()
	b.clock.Advance(15 * time.Minute)

	// Whole-minute windows of ten minutes each side of the faults: one datapoint apiece.
	after := faultsSet.Truncate(time.Minute).Add(time.Minute)
	before := faultsSet.Truncate(time.Minute).Add(-10 * time.Minute)
	queries := []cwtypes.MetricDataQuery{
		metricQuery("latency", "AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", fakeaws.LoadBalancer, "p95", 10*time.Minute),
		metricQuery("cpu", "AWS/EC2", "CPUUtilization", "AutoScalingGroupName", fakeaws.AutoScalingGroup, "Average", 10*time.Minute),
		metricQuery("hitrate", "AWS/ElastiCache", "CacheHitRate", "CacheClusterId", fakeaws.CacheCluster, "Average", 10*time.Minute),
		metricQuery("hits", "AWS/ElastiCache", "CacheHits", "CacheClusterId", fakeaws.CacheCluster, "Sum", 10*time.Minute),
		metricQuery("misses", "AWS/ElastiCache", "CacheMisses", "CacheClusterId", fakeaws.CacheCluster, "Sum", 10*time.Minute),
		metricQuery("elsewhere", "AWS/EC2", "CPUUtilization", "AutoScalingGroupName", "another-group", "Average", 10*time.Minute),
	}
	cases := []struct {
		name  string
		start time.Time
		want  map[string][]float64
	}{
		{"before the faults", before, map[string][]float64{
			"latency": {fakeaws.TargetResponseTimeBaseline}, "cpu": {fakeaws.CPUUtilizationBaseline},
			"hitrate": {fakeaws.CacheHitRateBaseline}, "hits": {10 * fakeaws.CacheHitsPerMinute},
			"misses": {10 * fakeaws.CacheMissesPerMinute}, "elsewhere": {},
		}},
		{"after the faults", after, map[string][]float64{
			"latency": {fakeaws.TargetResponseTimeHigh}, "cpu": {fakeaws.CPUUtilizationBaseline},
			"hitrate": {fakeaws.CacheHitRateCold}, "hits": {10 * fakeaws.CacheHitsPerMinuteCold},
			"misses": {10 * fakeaws.CacheMissesPerMinuteCold}, "elsewhere": {},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, err := b.cw.GetMetricData(t.Context(), &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(c.start), EndTime: aws.Time(c.start.Add(10 * time.Minute)), MetricDataQueries: queries,
			})
			require.NoError(t, err)
			got := map[string][]float64{}
			for _, r := range out.MetricDataResults {
				require.Equal(t, cwtypes.StatusCodeComplete, r.StatusCode)
				got[aws.ToString(r.Id)] = r.Values
			}
			require.Equal(t, c.want, got)
		})
	}
}

func TestMetricDatapointsArePerPeriodNewestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.clock.Advance(10 * time.Minute)
	start := b.clock.Now().Add(-5 * time.Minute).Truncate(time.Minute)

	out, err := b.cw.GetMetricData(t.Context(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(start.Add(20 * time.Second)), // CloudWatch rounds it down to the minute
		EndTime:   aws.Time(start.Add(3 * time.Minute)),
		MetricDataQueries: []cwtypes.MetricDataQuery{
			metricQuery("cpu", "AWS/EC2", "CPUUtilization", "AutoScalingGroupName", fakeaws.AutoScalingGroup, "Maximum", time.Minute),
		},
	})
	require.NoError(t, err)
	require.Len(t, out.MetricDataResults, 1)
	result := out.MetricDataResults[0]
	require.Equal(t, "CPUUtilization", aws.ToString(result.Label))
	require.Equal(t, utc([]time.Time{start.Add(2 * time.Minute), start.Add(time.Minute), start}), utc(result.Timestamps))
	require.Equal(t, []float64{fakeaws.CPUUtilizationBaseline, fakeaws.CPUUtilizationBaseline, fakeaws.CPUUtilizationBaseline}, result.Values)
}

func utc(times []time.Time) []time.Time {
	out := make([]time.Time, len(times))
	for i, t := range times {
		out[i] = t.UTC()
	}
	return out
}

func TestMetricQueriesTheSandboxCannotAnswerAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := b.clock.Now()
	cpu := func(id, stat string) cwtypes.MetricDataQuery {
		return metricQuery(id, "AWS/EC2", "CPUUtilization", "AutoScalingGroupName", fakeaws.AutoScalingGroup, stat, time.Minute)
	}
	cases := []struct {
		name        string
		queries     []cwtypes.MetricDataQuery
		messagePart string
	}{
		{"an Id in capitals", []cwtypes.MetricDataQuery{cpu("CPU", "Average")}, "must start with a lowercase letter"},
		{"a repeated Id", []cwtypes.MetricDataQuery{cpu("cpu", "Average"), cpu("cpu", "Sum")}, "is not unique"},
		{"metric math", []cwtypes.MetricDataQuery{{Id: aws.String("ratio"), Expression: aws.String("m1/m2")}}, "does not evaluate metric math"},
		{"an unknown statistic", []cwtypes.MetricDataQuery{cpu("cpu", "Median")}, `not "Median"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.cw.GetMetricData(t.Context(), &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), MetricDataQueries: c.queries,
			})
			requireAWSError(t, err, 400, "ValidationError", c.messagePart)
		})
	}
}

func TestAlarmsFireWithTheAlarmFault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	states := func() map[string]cwtypes.StateValue {
		t.Helper()
		out, err := b.cw.DescribeAlarms(t.Context(), &cloudwatch.DescribeAlarmsInput{
			AlarmNames: []string{fakeaws.AlarmErrors, fakeaws.AlarmLatency, "not-configured"},
			AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
		})
		require.NoError(t, err)
		require.Empty(t, out.CompositeAlarms)
		states := map[string]cwtypes.StateValue{}
		for _, a := range out.MetricAlarms {
			states[aws.ToString(a.AlarmName)] = a.StateValue
		}
		return states
	}
	require.Equal(t, map[string]cwtypes.StateValue{fakeaws.AlarmErrors: "OK", fakeaws.AlarmLatency: "OK"}, states())

	require.NoError(t, b.srv.Fault(fakeaws.FaultAlarmFiring))
	require.Equal(t, map[string]cwtypes.StateValue{fakeaws.AlarmErrors: "ALARM", fakeaws.AlarmLatency: "OK"}, states())

	out, err := b.cw.DescribeAlarms(t.Context(), &cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValueAlarm})
	require.NoError(t, err)
	require.Len(t, out.MetricAlarms, 1)
	require.Equal(t, fakeaws.AlarmErrors, aws.ToString(out.MetricAlarms[0].AlarmName))
}
