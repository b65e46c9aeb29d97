package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// The states a CloudWatch alarm can be in.
const (
	AlarmOK               = string(cwtypes.StateValueOk)
	AlarmFiring           = string(cwtypes.StateValueAlarm)
	AlarmInsufficientData = string(cwtypes.StateValueInsufficientData)
)

// maxAlarmNames is the most alarm names one DescribeAlarms call may carry.
const maxAlarmNames = 100

// Alarms returns the state of each named alarm, metric or composite, and the names that do not
// exist.
func (c *Client) Alarms(ctx context.Context, names []string) (states map[string]string, missing []string, err error) {
	states = map[string]string{}
	for batch := range slices.Chunk(names, maxAlarmNames) {
		paginator := cloudwatch.NewDescribeAlarmsPaginator(c.cloudWatch, &cloudwatch.DescribeAlarmsInput{
			AlarmNames: batch,
			// Without AlarmTypes, DescribeAlarms leaves composite alarms out.
			AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
		})
		for paginator.HasMorePages() {
			page, err := paginator.NextPage(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("describing the alarms %q: %w", batch, &Error{err})
			}
			for _, a := range page.MetricAlarms {
				states[sdkaws.ToString(a.AlarmName)] = string(a.StateValue)
			}
			for _, a := range page.CompositeAlarms {
				states[sdkaws.ToString(a.AlarmName)] = string(a.StateValue)
			}
		}
	}
	for _, name := range names {
		if _, found := states[name]; !found {
			missing = append(missing, name)
		}
	}
	return states, missing, nil
}

// MetricQuery names a CloudWatch metric and the statistic to read.
type MetricQuery struct {
	Namespace string // e.g. "AWS/ApplicationELB"
	Name      string // e.g. "TargetResponseTime"
	// Dimensions must be exactly the metric's dimensions: CloudWatch matches the whole set.
	Dimensions map[string]string
	Stat       string // "Average", "Sum", "Minimum", "Maximum", "SampleCount" or a percentile such as "p95"
}

// Metric reads q's statistic over the window from from to to as one value. CloudWatch computes it
// over a single period spanning the window (a p95 of ten minutes is not the mean of ten
// per-minute p95s); the window starts at from rounded down to the minute, as CloudWatch rounds
// it. found is false when CloudWatch has no data there: no such metric with exactly those
// dimensions, or nothing reported in the window.
func (c *Client) Metric(ctx context.Context, q MetricQuery, from, to time.Time) (value float64, found bool, err error) {
	readings, err := c.readMetrics(ctx, from, to, q)
	if err != nil {
		return 0, false, err
	}
	return readings[0].value, readings[0].found, nil
}

// CacheHitRatio reads an ElastiCache cache's hit ratio over the window, between 0 and 1:
// CacheHits / (CacheHits + CacheMisses), both summed over the window, for the cache with these
// dimensions (e.g. CacheClusterId). found is false when the cache reported no lookups. (The
// CacheHitRate metric that ElastiCache for Redis OSS and Valkey publish is a percentage: read it with
// Metric.)
func (c *Client) CacheHitRatio(ctx context.Context, dimensions map[string]string, from, to time.Time) (ratio float64, found bool, err error) {
	readings, err := c.readMetrics(ctx, from, to,
		MetricQuery{Namespace: "AWS/ElastiCache", Name: "CacheHits", Dimensions: dimensions, Stat: "Sum"},
		MetricQuery{Namespace: "AWS/ElastiCache", Name: "CacheMisses", Dimensions: dimensions, Stat: "Sum"},
	)
	if err != nil {
		return 0, false, err
	}
	hits, misses := readings[0].value, readings[1].value
	if hits+misses == 0 {
		return 0, false, nil
	}
	return hits / (hits + misses), true, nil
}

type reading struct {
	value float64
	found bool
}

// readMetrics reads each query over the window in one GetMetricData call, one datapoint each.
func (c *Client) readMetrics(ctx context.Context, from, to time.Time, queries ...MetricQuery) ([]reading, error) {
	start := from.Truncate(time.Minute)
	if !to.After(start) {
		return nil, errors.New("reading CloudWatch metrics: the window ends before it starts")
	}
	// One period over the whole window, in whole minutes as standard-resolution metrics require.
	minutes := (to.Sub(start) + time.Minute - 1) / time.Minute
	period := int32(minutes * 60)
	input := &cloudwatch.GetMetricDataInput{StartTime: sdkaws.Time(start), EndTime: sdkaws.Time(to)}
	index := map[string]int{} // query ID → position in queries
	for i, q := range queries {
		id := "m" + strconv.Itoa(i)
		index[id] = i
		var dimensions []cwtypes.Dimension
		for _, name := range slices.Sorted(maps.Keys(q.Dimensions)) {
			dimensions = append(dimensions, cwtypes.Dimension{Name: sdkaws.String(name), Value: sdkaws.String(q.Dimensions[name])})
		}
		input.MetricDataQueries = append(input.MetricDataQueries, cwtypes.MetricDataQuery{
			Id: sdkaws.String(id),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: sdkaws.String(q.Namespace), MetricName: sdkaws.String(q.Name), Dimensions: dimensions},
				Period: sdkaws.Int32(period),
				Stat:   sdkaws.String(q.Stat),
			},
		})
	}
	readings := make([]reading, len(queries))
	paginator := cloudwatch.NewGetMetricDataPaginator(c.cloudWatch, input)
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", describe(queries), &Error{err})
		}
		for _, result := range page.MetricDataResults {
			if i, asked := index[sdkaws.ToString(result.Id)]; asked && len(result.Values) > 0 {
				readings[i] = reading{value: result.Values[0], found: true}
			}
		}
	}
	return readings, nil
}

func describe(queries []MetricQuery) string {
	names := make([]string, len(queries))
	for i, q := range queries {
		names[i] = fmt.Sprintf("%s %s %s %v", q.Namespace, q.Name, q.Stat, q.Dimensions)
	}
	return fmt.Sprintf("CloudWatch metrics %q", names)
}
