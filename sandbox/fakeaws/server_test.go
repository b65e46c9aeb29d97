package fakeaws_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
)

// loadModels reads the Smithy models once for the whole test binary.
var loadModels = sync.OnceValues(func() (*fakeaws.Models, error) {
	dir, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	if err != nil {
		return nil, err
	}
	return fakeaws.LoadModels(dir)
})

type testBundle struct {
	srv   *fakeaws.Server
	clock *clock.Offset
	elb   *elb.Client
	cw    *cloudwatch.Client
	logs  *cloudwatchlogs.Client
}

// setup starts a sandbox account on its own clock with SDK clients pointed at it, or skips the
// test when the models are not there.
func setup(t *testing.T) *testBundle {
	t.Helper()
	models, err := loadModels()
	if errors.Is(err, apispec.ErrNotFound) {
		t.Skipf("skipping: %v (set OPSBOT_SPECS_DIR to the folder of vendor API descriptions)", err)
	}
	require.NoError(t, err)
	c := clock.NewOffset()
	srv, err := fakeaws.New(fakeaws.Options{Models: models, Clock: c})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	cfg := config(srv, fakeaws.Region, staticCredentials)
	return &testBundle{
		srv:   srv,
		clock: c,
		elb:   elb.NewFromConfig(cfg),
		cw:    cloudwatch.NewFromConfig(cfg),
		logs:  cloudwatchlogs.NewFromConfig(cfg),
	}
}

var staticCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIASANDBOX", SecretAccessKey: "sandbox-secret", Source: "test"}, nil
})

func config(srv *fakeaws.Server, region string, credentials aws.CredentialsProvider) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials,
		BaseEndpoint: aws.String(srv.URL()),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// withoutClientValidation lets a request the SDK would refuse reach the fake, so that the fake's
// own checks can be seen.
func withoutClientValidation(stack *middleware.Stack) error {
	_, err := stack.Initialize.Remove("OperationInputValidation")
	return err
}

// requireAWSError checks that err is the service error AWS would answer.
func requireAWSError(t *testing.T, err error, status int, code, messagePart string) {
	t.Helper()
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, code, apiErr.ErrorCode(), "error: %v", err)
	require.Contains(t, apiErr.ErrorMessage(), messagePart)
	var respErr *awshttp.ResponseError
	require.ErrorAs(t, err, &respErr)
	require.Equal(t, status, respErr.HTTPStatusCode())
}

func TestRequestsBreakingTheModelGetTheServiceValidationError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	alarmNames := make([]string, 101)
	for i := range alarmNames {
		alarmNames[i] = "alarm"
	}
	cases := []struct {
		name        string
		call        func() error
		code        string
		messagePart string
	}{
		{
			name: "ELBv2 without the required target group",
			call: func() error {
				_, err := b.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{},
					func(o *elb.Options) { o.APIOptions = append(o.APIOptions, withoutClientValidation) })
				return err
			},
			code:        "ValidationError",
			messagePart: "1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null",
		},
		{
			name: "ELBv2 with a value outside an enum",
			call: func() error {
				_, err := b.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{
					TargetGroupArn: aws.String(fakeaws.WebTargetGroupARN),
					Include:        []elbtypes.DescribeTargetHealthInputIncludeEnum{"EVERYTHING"},
				})
				return err
			},
			code:        "ValidationError",
			messagePart: "at 'include.1.member' failed to satisfy constraint: Member must satisfy enum value set: [All, AnomalyDetection]",
		},
		{
			name: "CloudWatch without the required queries and times",
			call: func() error {
				_, err := b.cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{},
					func(o *cloudwatch.Options) { o.APIOptions = append(o.APIOptions, withoutClientValidation) })
				return err
			},
			code:        "ValidationError",
			messagePart: "3 validation errors detected: Value null at 'endTime'",
		},
		{
			name: "CloudWatch with more alarm names than allowed",
			call: func() error {
				_, err := b.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: alarmNames})
				return err
			},
			code:        "ValidationError",
			messagePart: "at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100",
		},
		{
			name: "CloudWatch with a period below its range",
			call: func() error {
				_, err := b.cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
					StartTime: aws.Time(time.Now().Add(-time.Hour)),
					EndTime:   aws.Time(time.Now()),
					MetricDataQueries: []cwtypes.MetricDataQuery{{
						Id: aws.String("m0"),
						MetricStat: &cwtypes.MetricStat{
							Metric: &cwtypes.Metric{Namespace: aws.String("AWS/EC2"), MetricName: aws.String("CPUUtilization")},
							Period: aws.Int32(0),
							Stat:   aws.String("Average"),
						},
					}},
				})
				return err
			},
			code:        "ValidationError",
			messagePart: "at 'metricDataQueries.1.member.metricStat.period' failed to satisfy constraint: Member must have value greater than or equal to 1",
		},
		{
			name: "CloudWatch Logs with a log group name outside its pattern",
			call: func() error {
				_, err := b.logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("bad name!")})
				return err
			},
			code:        "InvalidParameterException",
			messagePart: "at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern",
		},
		{
			name: "CloudWatch Logs with a negative start time",
			call: func() error {
				_, err := b.logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
					LogGroupName: aws.String(fakeaws.LogGroup), StartTime: aws.Int64(-1),
				})
				return err
			},
			code:        "InvalidParameterException",
			messagePart: "Value '-1' at 'startTime' failed to satisfy constraint: Member must have value greater than or equal to 0",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			requireAWSError(t, c.call(), 400, c.code, c.messagePart)
		})
	}
}

func TestRequestsWithoutAProperSignatureAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	unsigned := config(b.srv, fakeaws.Region, aws.AnonymousCredentials{})
	otherRegion := config(b.srv, "eu-west-1", staticCredentials)
	describeTargetHealth := func(cfg aws.Config) error {
		_, err := elb.NewFromConfig(cfg).DescribeTargetHealth(ctx,
			&elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(fakeaws.WebTargetGroupARN)})
		return err
	}
	describeAlarms := func(cfg aws.Config) error {
		_, err := cloudwatch.NewFromConfig(cfg).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
		return err
	}
	filterLogEvents := func(cfg aws.Config) error {
		_, err := cloudwatchlogs.NewFromConfig(cfg).FilterLogEvents(ctx,
			&cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(fakeaws.LogGroup)})
		return err
	}
	cases := []struct {
		name        string
		err         error
		status      int
		code        string
		messagePart string
	}{
		{"ELBv2 unsigned", describeTargetHealth(unsigned), 403, "MissingAuthenticationToken", "Missing Authentication Token"},
		{"ELBv2 for another region", describeTargetHealth(otherRegion), 403, "SignatureDoesNotMatch", "scoped to a valid region"},
		{"CloudWatch unsigned", describeAlarms(unsigned), 403, "MissingAuthenticationToken", "Missing Authentication Token"},
		{"CloudWatch for another region", describeAlarms(otherRegion), 403, "SignatureDoesNotMatch", "scoped to a valid region"},
		{"Logs unsigned", filterLogEvents(unsigned), 400, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"Logs for another region", filterLogEvents(otherRegion), 400, "InvalidSignatureException", "scoped to a valid region"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			requireAWSError(t, c.err, c.status, c.code, c.messagePart)
		})
	}
}

func TestTargetHealthFollowsTheHealthFault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	states := func() map[string]string {
		t.Helper()
		states := map[string]string{}
		for _, arn := range []string{fakeaws.WebTargetGroupARN, fakeaws.APITargetGroupARN} {
			out, err := b.elb.DescribeTargetHealth(t.Context(), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
			require.NoError(t, err)
			for _, d := range out.TargetHealthDescriptions {
				states[aws.ToString(d.Target.Id)] = string(d.TargetHealth.State) + " " + string(d.TargetHealth.Reason)
			}
		}
		return states
	}
	healthy := map[string]string{
		"i-0a1b2c3d4e5f60001": "healthy ", "i-0a1b2c3d4e5f60002": "healthy ", "i-0a1b2c3d4e5f60003": "healthy ",
		"i-0a1b2c3d4e5f60004": "healthy ", "i-0a1b2c3d4e5f60005": "healthy ", "i-0a1b2c3d4e5f60006": "healthy ",
	}
	require.Equal(t, healthy, states())

	require.NoError(t, b.srv.Fault(fakeaws.FaultHealthUnhealthy))
	unhealthy := states()
	require.Equal(t, "unhealthy Target.FailedHealthChecks", unhealthy["i-0a1b2c3d4e5f60001"])
	require.Equal(t, "unhealthy Target.FailedHealthChecks", unhealthy["i-0a1b2c3d4e5f60004"])
	require.Equal(t, "healthy ", unhealthy["i-0a1b2c3d4e5f60002"])

	b.srv.Clear()
	require.Equal(t, healthy, states())

	_, err := b.elb.DescribeTargetHealth(t.Context(), &elb.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(strings.Replace(fakeaws.WebTargetGroupARN, "analytics-web", "missing", 1)),
	})
	requireAWSError(t, err, 400, "TargetGroupNotFound", "not found")
}

func TestUnknownFaultsAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.ErrorIs(t, b.srv.Fault("disk full"), fakeaws.ErrUnknownFault)
}

func TestAuthorizationHeadersOfTheWrongShapeAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now().UTC()
	signature := strings.Repeat("ab", 32)
	authorization := func(scope string) string {
		return "AWS4-HMAC-SHA256 Credential=AKIASANDBOX/" + scope + ", SignedHeaders=host;x-amz-date, Signature=" + signature
	}
	today := now.Format("20060102")
	cases := []struct {
		name          string
		authorization string
		amzDate       string
		wantType      string
		wantPart      string
	}{
		{"another algorithm", "AWS3 Credential=AKIASANDBOX", now.Format("20060102T150405Z"), "IncompleteSignatureException", "AWS4-HMAC-SHA256"},
		{"no signature", "AWS4-HMAC-SHA256 Credential=AKIASANDBOX/" + today + "/us-east-1/logs/aws4_request, SignedHeaders=host",
			now.Format("20060102T150405Z"), "IncompleteSignatureException", "'Signature'"},
		{"no date", authorization(today + "/us-east-1/logs/aws4_request"), "", "IncompleteSignatureException", "X-Amz-Date"},
		{"another day", authorization("19990101/us-east-1/logs/aws4_request"), now.Format("20060102T150405Z"), "InvalidSignatureException", "Date in Credential scope"},
		{"another service", authorization(today + "/us-east-1/monitoring/aws4_request"), now.Format("20060102T150405Z"), "InvalidSignatureException", "correct service: 'logs'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL(),
				strings.NewReader(`{"logGroupName":"`+fakeaws.LogGroup+`"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", "Logs_20140328.FilterLogEvents")
			req.Header.Set("Authorization", c.authorization)
			req.Header.Set("X-Amz-Date", c.amzDate)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var answer struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Equal(t, c.wantType, answer.Type)
			require.Contains(t, answer.Message, c.wantPart)
		})
	}
}
