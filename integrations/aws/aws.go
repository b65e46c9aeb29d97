// Package aws reads what post-deployment verification checks in AWS: the health of the load
// balancer's targets (ELBv2), error lines in CloudWatch Logs, the states of CloudWatch alarms and
// CloudWatch metric values such as TargetResponseTime p95, CPUUtilization and the ElastiCache hit
// rate.
//
// It is a thin layer over aws-sdk-go-v2: the caller builds the aws.Config (with
// config.LoadDefaultConfig, which reads the credential chain and AWS_ENDPOINT_URL), and every
// error a Client returns wraps an *Error that says whether trying again later may help.
package aws

import (
	"context"
	"errors"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

// Client reads target health, log events, alarms and metrics in one account and region.
type Client struct {
	elb        *elb.Client
	cloudWatch *cloudwatch.Client
	logs       *cloudwatchlogs.Client
}

// New returns a Client that calls AWS as cfg says.
func New(cfg sdkaws.Config) *Client {
	return &Client{
		elb:        elb.NewFromConfig(cfg),
		cloudWatch: cloudwatch.NewFromConfig(cfg),
		logs:       cloudwatchlogs.NewFromConfig(cfg),
	}
}

// Error is an AWS call that failed after the SDK's own retries. Err is the SDK's error; for an
// answer from AWS it holds a smithy.APIError with the service's error code.
type Error struct {
	Err error
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Transient reports whether the same call may succeed later: AWS was unreachable, timed out,
// failed on its side (5xx) or throttled the call. A refused call (4xx: a missing resource, bad
// input, no permission) is permanent, and so is one whose context was cancelled.
func (e *Error) Transient() bool {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	// The SDK's own notion of what is worth retrying: connection errors, 5xx, 429 and the
	// throttling error codes (which AWS answers with 400).
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(e.Err) == sdkaws.TrueTernary
}
