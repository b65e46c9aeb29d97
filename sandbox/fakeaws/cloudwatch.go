package fakeaws

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The dimension values of the seeded metrics.
const (
	LoadBalancer     = "app/analytics-production/50dc6c495c0c9188" // AWS/ApplicationELB, dimension LoadBalancer
	AutoScalingGroup = "analytics-production"                      // AWS/EC2, dimension AutoScalingGroupName
	CacheCluster     = "analytics-cache-001"                       // AWS/ElastiCache, dimension CacheClusterId
)

// The seeded metric levels: every statistic of a minute reports its series' level, which is the
// baseline unless the series' fault is active.
const (
	TargetResponseTimeBaseline = 0.25                           // AWS/ApplicationELB TargetResponseTime, seconds
	TargetResponseTimeHigh     = 4 * TargetResponseTimeBaseline // … under FaultLatencyHigh
	CPUUtilizationBaseline     = 35.0                           // AWS/EC2 CPUUtilization, percent
	CacheHitRateBaseline       = 95.0                           // AWS/ElastiCache CacheHitRate, percent
	CacheHitRateCold           = 40.0                           // … under FaultCacheCold
	CacheHitsPerMinute         = 950.0                          // AWS/ElastiCache CacheHits, CacheMisses: 95 %
	CacheMissesPerMinute       = 50.0
	CacheHitsPerMinuteCold     = 400.0 // … and 40 % under FaultCacheCold
	CacheMissesPerMinuteCold   = 600.0
)

// The seeded alarms; both are OK, except that FaultAlarmFiring sets AlarmErrors to ALARM.
const (
	AlarmErrors  = "analytics-5xx"
	AlarmLatency = "analytics-latency"
)

type series struct {
	namespace, name string
	dimensions      map[string]string
	baseline        float64
	fault           string  // the fault that moves the series, if any
	faulted         float64 // the series' level while that fault is active
}

var metricSeries = []series{
	{"AWS/ApplicationELB", "TargetResponseTime", map[string]string{"LoadBalancer": LoadBalancer},
		TargetResponseTimeBaseline, FaultLatencyHigh, TargetResponseTimeHigh},
	{"AWS/EC2", "CPUUtilization", map[string]string{"AutoScalingGroupName": AutoScalingGroup},
		CPUUtilizationBaseline, "", 0},
	{"AWS/ElastiCache", "CacheHitRate", map[string]string{"CacheClusterId": CacheCluster},
		CacheHitRateBaseline, FaultCacheCold, CacheHitRateCold},
	{"AWS/ElastiCache", "CacheHits", map[string]string{"CacheClusterId": CacheCluster},
		CacheHitsPerMinute, FaultCacheCold, CacheHitsPerMinuteCold},
	{"AWS/ElastiCache", "CacheMisses", map[string]string{"CacheClusterId": CacheCluster},
		CacheMissesPerMinute, FaultCacheCold, CacheMissesPerMinuteCold},
}

type alarm struct {
	name, namespace, metric string
	dimensions              map[string]string
	statistic, comparison   string
	threshold               float64
	period, evaluations     int
	fault                   string // the fault that sets the alarm to ALARM, if any
}

var alarms = []alarm{
	{AlarmErrors, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", map[string]string{"LoadBalancer": LoadBalancer},
		"Sum", "GreaterThanThreshold", 10, 60, 1, FaultAlarmFiring},
	{AlarmLatency, "AWS/ApplicationELB", "TargetResponseTime", map[string]string{"LoadBalancer": LoadBalancer},
		"Average", "GreaterThanThreshold", 1, 60, 3, ""},
}

type dimension struct{ Name, Value string }

type getMetricDataInput struct {
	MetricDataQueries []struct {
		ID         string `json:"Id"`
		MetricStat *struct {
			Metric struct {
				Namespace  string
				MetricName string
				Dimensions []dimension
			}
			Period int
			Stat   string
		}
		Expression string
		Label      string
		ReturnData *bool
	}
	StartTime time.Time
	EndTime   time.Time
	NextToken string
	ScanBy    string
}

var (
	// metricID is what CloudWatch accepts as a query's Id.
	metricID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
	// supportedStat are the statistics the sandbox computes; CloudWatch knows more (tm99, IQM, …).
	supportedStat = regexp.MustCompile(`^(SampleCount|Average|Sum|Minimum|Maximum|p(100|\d{1,2}(\.\d{1,2})?))$`)
)

// getMetricData answers MetricStat queries over the seeded series: one datapoint per period from
// StartTime (rounded down to the minute, as CloudWatch does), computed from the series' levels at
// each minute of the period that has already happened.
func (s *Server) getMetricData(raw []byte) (any, *serviceError) {
	var in getMetricDataInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, internalFailure(err)
	}
	invalid := s.apis.cloudWatch.invalid
	if in.NextToken != "" {
		return nil, &serviceError{http.StatusBadRequest, "InvalidNextToken", "The service returned an invalid token"}
	}
	start := in.StartTime.Truncate(time.Minute)
	if !start.Before(in.EndTime) {
		return nil, invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	results := []any{}
	seen := map[string]bool{}
	for i, q := range in.MetricDataQueries {
		at := fmt.Sprintf("MetricDataQueries.member.%d", i+1)
		switch {
		case !metricID.MatchString(q.ID):
			return nil, invalid(fmt.Sprintf("The value %s for parameter %s.Id is not valid: it must start with a lowercase letter and contain only letters, digits and underscores.", q.ID, at))
		case seen[q.ID]:
			return nil, invalid(fmt.Sprintf("The value %s for parameter %s.Id is not unique.", q.ID, at))
		case q.Expression != "":
			return nil, invalid(fmt.Sprintf("%s: the sandbox does not evaluate metric math (Expression)", at))
		case q.MetricStat == nil:
			return nil, invalid(fmt.Sprintf("%s must specify either MetricStat or Expression.", at))
		case !supportedStat.MatchString(q.MetricStat.Stat):
			return nil, invalid(fmt.Sprintf("%s.MetricStat.Stat: the sandbox computes SampleCount, Average, Sum, Minimum, Maximum and pNN, not %q", at, q.MetricStat.Stat))
		}
		seen[q.ID] = true
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		metric := q.MetricStat.Metric
		timestamps, values := s.datapoints(findSeries(metric.Namespace, metric.MetricName, metric.Dimensions),
			q.MetricStat.Stat, start, in.EndTime, time.Duration(q.MetricStat.Period)*time.Second)
		if in.ScanBy != "TimestampAscending" {
			slices.Reverse(timestamps)
			slices.Reverse(values)
		}
		label := q.Label
		if label == "" {
			label = metric.MetricName
		}
		results = append(results, map[string]any{
			"Id": q.ID, "Label": label, "Timestamps": timestamps, "Values": values, "StatusCode": "Complete",
		})
	}
	return map[string]any{"MetricDataResults": results, "Messages": []any{}}, nil
}

// findSeries returns the series with exactly these dimensions, as CloudWatch matches them, or nil.
func findSeries(namespace, name string, dimensions []dimension) *series {
	asked := map[string]string{}
	for _, d := range dimensions {
		asked[d.Name] = d.Value
	}
	for i, candidate := range metricSeries {
		if candidate.namespace == namespace && candidate.name == name && maps.Equal(candidate.dimensions, asked) {
			return &metricSeries[i]
		}
	}
	return nil
}

// datapoints computes stat for each period of [start, end) that has at least one minute of data,
// oldest first.
func (s *Server) datapoints(series *series, stat string, start, end time.Time, period time.Duration) ([]time.Time, []float64) {
	var timestamps []time.Time
	var values []float64
	if series == nil {
		return timestamps, values
	}
	now, first := s.clock.Now(), s.started.Add(-history)
	for periodStart := start; periodStart.Before(end); periodStart = periodStart.Add(period) {
		var levels []float64
		for t := periodStart; t.Before(periodStart.Add(period)) && !t.After(now); t = t.Add(time.Minute) {
			if t.Before(first) {
				continue
			}
			level := series.baseline
			if series.fault != "" && s.faults.ActiveAt(series.fault, t) {
				level = series.faulted
			}
			levels = append(levels, level)
		}
		if len(levels) > 0 {
			timestamps = append(timestamps, periodStart)
			values = append(values, statistic(stat, levels))
		}
	}
	return timestamps, values
}

// statistic computes a supportedStat over a period's per-minute levels; percentiles are nearest-rank.
func statistic(stat string, levels []float64) float64 {
	var sum float64
	for _, v := range levels {
		sum += v
	}
	switch stat {
	case "Sum":
		return sum
	case "SampleCount":
		return float64(len(levels))
	case "Average":
		return sum / float64(len(levels))
	case "Minimum":
		return slices.Min(levels)
	case "Maximum":
		return slices.Max(levels)
	}
	percent, _ := strconv.ParseFloat(stat[1:], 64) // supportedStat guarantees pNN here
	sorted := slices.Sorted(slices.Values(levels))
	rank := max(int(math.Ceil(percent/100*float64(len(sorted)))), 1)
	return sorted[rank-1]
}

type describeAlarmsInput struct {
	AlarmNames          []string
	AlarmNamePrefix     string
	AlarmTypes          []string
	StateValue          string
	ActionPrefix        string
	ChildrenOfAlarmName string
	ParentsOfAlarmName  string
	NextToken           string
}

// describeAlarms lists the seeded metric alarms by name, name prefix and state. The sandbox has
// no composite alarms and never pages.
func (s *Server) describeAlarms(raw []byte) (any, *serviceError) {
	var in describeAlarmsInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, internalFailure(err)
	}
	switch {
	case in.NextToken != "":
		return nil, &serviceError{http.StatusBadRequest, "InvalidNextToken", "The service returned an invalid token"}
	case len(in.AlarmNames) > 0 && in.AlarmNamePrefix != "":
		return nil, &serviceError{http.StatusBadRequest, "InvalidParameterCombination",
			"AlarmNames and AlarmNamePrefix cannot be specified together"}
	case in.ActionPrefix != "" || in.ChildrenOfAlarmName != "" || in.ParentsOfAlarmName != "":
		return nil, s.apis.cloudWatch.invalid("the sandbox does not filter alarms by ActionPrefix, ChildrenOfAlarmName or ParentsOfAlarmName")
	}
	output := map[string]any{}
	if len(in.AlarmTypes) == 0 || slices.Contains(in.AlarmTypes, "MetricAlarm") {
		metricAlarms := []any{}
		for _, a := range alarms {
			state, reason := "OK", "Threshold Crossed: no datapoints were greater than the threshold"
			if a.fault != "" && s.faults.Active(a.fault) {
				state, reason = "ALARM", fmt.Sprintf("Threshold Crossed: 1 datapoint was greater than the threshold (%v)", a.threshold)
			}
			if !matchesAlarm(in, a.name, state) {
				continue
			}
			dimensions := []any{}
			for _, name := range slices.Sorted(maps.Keys(a.dimensions)) {
				dimensions = append(dimensions, map[string]any{"Name": name, "Value": a.dimensions[name]})
			}
			metricAlarms = append(metricAlarms, map[string]any{
				"AlarmName":          a.name,
				"AlarmArn":           "arn:aws:cloudwatch:" + Region + ":" + AccountID + ":alarm:" + a.name,
				"StateValue":         state,
				"StateReason":        reason,
				"Namespace":          a.namespace,
				"MetricName":         a.metric,
				"Dimensions":         dimensions,
				"Statistic":          a.statistic,
				"Period":             a.period,
				"EvaluationPeriods":  a.evaluations,
				"Threshold":          a.threshold,
				"ComparisonOperator": a.comparison,
				"ActionsEnabled":     true,
			})
		}
		output["MetricAlarms"] = metricAlarms
	}
	if slices.Contains(in.AlarmTypes, "CompositeAlarm") {
		output["CompositeAlarms"] = []any{}
	}
	return output, nil
}

func matchesAlarm(in describeAlarmsInput, name, state string) bool {
	return (len(in.AlarmNames) == 0 || slices.Contains(in.AlarmNames, name)) &&
		strings.HasPrefix(name, in.AlarmNamePrefix) &&
		(in.StateValue == "" || in.StateValue == state)
}
