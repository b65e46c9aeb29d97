package fakeaws_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakeaws"
)

// countEvents follows nextToken through every page and reports the events and pages seen.
func (b *testBundle) countEvents(t *testing.T, pattern string, from, to time.Time) (events, pages int) {
	t.Helper()
	paginator := cloudwatchlogs.NewFilterLogEventsPaginator(b.logs, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(fakeaws.LogGroup),
		FilterPattern: aws.String(pattern),
		StartTime:     aws.Int64(from.UnixMilli()),
		EndTime:       aws.Int64(to.UnixMilli() - 1), // EndTime is inclusive; the window is not
	})
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(t.Context())
		require.NoError(t, err)
		events += len(page.Events)
		pages++
	}
	return events, pages
}

func TestLogErrorsAppearWithTheLogsFaultAndStayInHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.srv.Fault(fakeaws.FaultLogsErrors))
	// Whole seconds, which FilterLogEvents's milliseconds hold exactly.
	faultSet := b.clock.Now().Truncate(time.Second).Add(time.Second)
	b.clock.Advance(30 * time.Minute)
	b.srv.Clear()
	b.clock.Advance(30 * time.Minute)

	cases := []struct {
		name       string
		pattern    string
		from       time.Time
		wantEvents int
	}{
		// An INFO line every 10 s; while the fault was on, an ERROR line every 20 s as well.
		{"errors before the fault", "ERROR", faultSet.Add(-31 * time.Minute), 0},
		{"errors while the fault was on", "ERROR", faultSet, 90},
		{"errors after it was cleared", "ERROR", faultSet.Add(31 * time.Minute), 0},
		{"every event while it was on", "", faultSet, 270},
		{"either term", "?ERROR ?INFO", faultSet, 270},
		{"a term but not another", "GET -ERROR", faultSet, 180},
		{"a quoted phrase", `"upstream timed out"`, faultSet, 90},
		{"two terms", "status=500 ERROR", faultSet, 90},
		{"terms are case-sensitive", "info", faultSet, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			events, pages := b.countEvents(t, c.pattern, c.from, c.from.Add(30*time.Minute))
			require.Equal(t, c.wantEvents, events)
			require.Equal(t, max(1, (c.wantEvents+49)/50), pages, "pages of at most 50 events")
		})
	}
}

func TestLogQueriesTheSandboxCannotAnswerAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name        string
		input       cloudwatchlogs.FilterLogEventsInput
		code        string
		messagePart string
	}{
		{"an unknown log group", cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/other/group")},
			"ResourceNotFoundException", "does not exist"},
		{"a JSON pattern", cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(fakeaws.LogGroup), FilterPattern: aws.String(`{ $.level = "error" }`)},
			"InvalidParameterException", "term filter patterns only"},
		{"an unterminated quote", cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(fakeaws.LogGroup), FilterPattern: aws.String(`"upstream`)},
			"InvalidParameterException", "unterminated quote"},
		{"a token it did not hand out", cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(fakeaws.LogGroup), NextToken: aws.String("page-two")},
			"InvalidParameterException", "nextToken is invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.logs.FilterLogEvents(t.Context(), &c.input)
			requireAWSError(t, err, 400, c.code, c.messagePart)
		})
	}
}
