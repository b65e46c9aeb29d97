package aws

import (
	"context"
	"fmt"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// CountLogEvents counts the events of logGroup from from up to, not including, to that match a
// CloudWatch Logs filter pattern (e.g. "ERROR"; empty matches every event). It follows every page
// FilterLogEvents hands out.
func (c *Client) CountLogEvents(ctx context.Context, logGroup, pattern string, from, to time.Time) (int, error) {
	paginator := cloudwatchlogs.NewFilterLogEventsPaginator(c.logs, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  sdkaws.String(logGroup),
		FilterPattern: sdkaws.String(pattern),
		// FilterLogEvents counts whole milliseconds and includes both ends.
		StartTime: sdkaws.Int64(ceilMillis(from)),
		EndTime:   sdkaws.Int64(ceilMillis(to) - 1),
	})
	count := 0
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("counting events matching %q in log group %s: %w", pattern, logGroup, &Error{err})
		}
		count += len(page.Events)
	}
	return count, nil
}

// ceilMillis is t in epoch milliseconds, rounded up.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}
