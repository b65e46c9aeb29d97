package aws

import (
	"context"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TargetHealth sums up the targets of one or more target groups.
type TargetHealth struct {
	Healthy, Total int
	// Unhealthy lists every target not in the healthy state, in the order ELBv2 reported them.
	Unhealthy []Target
}

// Target is a load-balancer target that is not healthy.
type Target struct {
	ID     string // the instance ID, IP address or Lambda ARN
	Port   int
	State  string // ELBv2's state: initial, unhealthy, unused, draining, unavailable, unhealthy.draining
	Reason string // ELBv2's reason code, e.g. Target.FailedHealthChecks; empty when it gives none
}

// TargetHealth describes the health of every target registered in the given target groups.
func (c *Client) TargetHealth(ctx context.Context, targetGroupARNs []string) (TargetHealth, error) {
	var health TargetHealth
	for _, arn := range targetGroupARNs {
		out, err := c.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: sdkaws.String(arn)})
		if err != nil {
			return TargetHealth{}, fmt.Errorf("describing the health of target group %s: %w", arn, &Error{err})
		}
		for _, d := range out.TargetHealthDescriptions {
			health.Total++
			var target Target
			if d.Target != nil {
				target.ID, target.Port = sdkaws.ToString(d.Target.Id), int(sdkaws.ToInt32(d.Target.Port))
			}
			if d.TargetHealth != nil {
				target.State, target.Reason = string(d.TargetHealth.State), string(d.TargetHealth.Reason)
			}
			if target.State == string(elbtypes.TargetHealthStateEnumHealthy) {
				health.Healthy++
				continue
			}
			health.Unhealthy = append(health.Unhealthy, target)
		}
	}
	return health, nil
}
