package fakeaws

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
)

// AccountID is the sandbox account's ID, as it appears in ARNs.
const AccountID = "123456789012"

// The seeded target groups of the analytics service's load balancer, three targets each.
const (
	WebTargetGroupARN = "arn:aws:elasticloadbalancing:" + Region + ":" + AccountID + ":targetgroup/analytics-web/6d0ecf831eec9f09"
	APITargetGroupARN = "arn:aws:elasticloadbalancing:" + Region + ":" + AccountID + ":targetgroup/analytics-api/3bb63f11dfb0faf9"
)

type targetGroup struct {
	arn     string
	targets []target
}

type target struct {
	id   string
	port int
	zone string
	// failsWhenUnhealthy: one of the two targets FaultHealthUnhealthy takes down.
	failsWhenUnhealthy bool
}

var targetGroups = []targetGroup{
	{arn: WebTargetGroupARN, targets: []target{
		{id: "i-0a1b2c3d4e5f60001", port: 8080, zone: "us-east-1a", failsWhenUnhealthy: true},
		{id: "i-0a1b2c3d4e5f60002", port: 8080, zone: "us-east-1b"},
		{id: "i-0a1b2c3d4e5f60003", port: 8080, zone: "us-east-1c"},
	}},
	{arn: APITargetGroupARN, targets: []target{
		{id: "i-0a1b2c3d4e5f60004", port: 9090, zone: "us-east-1a", failsWhenUnhealthy: true},
		{id: "i-0a1b2c3d4e5f60005", port: 9090, zone: "us-east-1b"},
		{id: "i-0a1b2c3d4e5f60006", port: 9090, zone: "us-east-1c"},
	}},
}

type describeTargetHealthInput struct {
	TargetGroupArn string
	Targets        []json.RawMessage
}

type describeTargetHealthResult struct {
	XMLName      xml.Name                  `xml:"DescribeTargetHealthResult"`
	Descriptions []targetHealthDescription `xml:"TargetHealthDescriptions>member"`
}

type targetHealthDescription struct {
	Target struct {
		ID               string `xml:"Id"`
		Port             int    `xml:"Port"`
		AvailabilityZone string `xml:"AvailabilityZone"`
	} `xml:"Target"`
	HealthCheckPort string `xml:"HealthCheckPort"`
	TargetHealth    struct {
		State       string `xml:"State"`
		Reason      string `xml:"Reason,omitempty"`
		Description string `xml:"Description,omitempty"`
	} `xml:"TargetHealth"`
}

// describeTargetHealth reports every target of a group: healthy, except the two that
// FaultHealthUnhealthy takes down while it is active.
func (s *Server) describeTargetHealth(raw []byte) (any, *serviceError) {
	var in describeTargetHealthInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, internalFailure(err)
	}
	if len(in.Targets) > 0 {
		return nil, s.apis.elb.invalid("the sandbox describes whole target groups only: Targets is not supported")
	}
	unhealthy := s.faults.Active(FaultHealthUnhealthy)
	for _, group := range targetGroups {
		if group.arn != in.TargetGroupArn {
			continue
		}
		result := describeTargetHealthResult{}
		for _, t := range group.targets {
			var d targetHealthDescription
			d.Target.ID, d.Target.Port, d.Target.AvailabilityZone = t.id, t.port, t.zone
			d.HealthCheckPort = strconv.Itoa(t.port)
			d.TargetHealth.State = "healthy"
			if unhealthy && t.failsWhenUnhealthy {
				d.TargetHealth.State = "unhealthy"
				d.TargetHealth.Reason = "Target.FailedHealthChecks"
				d.TargetHealth.Description = "Health checks failed"
			}
			result.Descriptions = append(result.Descriptions, d)
		}
		return result, nil
	}
	return nil, &serviceError{http.StatusBadRequest, "TargetGroupNotFound",
		"One or more target groups not found"}
}
