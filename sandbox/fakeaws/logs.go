package fakeaws

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LogGroup is the seeded application log group: an INFO line every 10 s, spread over a stream per
// web target, and while FaultLogsErrors is active an ERROR line every 20 s as well.
const LogGroup = "/analytics/production"

const (
	infoInterval  = 10 * time.Second
	errorInterval = 20 * time.Second
	infoLine      = "INFO GET /api/reports status=200 duration_ms=38"
	errorLine     = `ERROR GET /api/reports status=500 error="upstream timed out"`
	// logPageSize is the most events a FilterLogEvents page holds. AWS pages by size and scanned
	// time; the fake's small pages make clients follow nextToken as they must against AWS.
	logPageSize = 50
)

type logEvent struct {
	id, stream, message string
	at                  time.Time
}

type filterLogEventsInput struct {
	LogGroupName        string
	LogGroupIdentifier  string
	LogStreamNames      []string
	LogStreamNamePrefix string
	StartTime           *int64 // epoch milliseconds, inclusive
	EndTime             *int64 // epoch milliseconds, inclusive
	FilterPattern       string
	NextToken           string
	Limit               int
}

// filterLogEvents answers FilterLogEvents on the seeded log group: the events between startTime
// and endTime (both inclusive) that match filterPattern, oldest first, logPageSize at a time.
func (s *Server) filterLogEvents(raw []byte) (any, *serviceError) {
	var in filterLogEventsInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, internalFailure(err)
	}
	invalid := s.apis.logs.invalid
	switch {
	case in.LogGroupIdentifier != "":
		return nil, invalid("the sandbox names log groups by logGroupName only: logGroupIdentifier is not supported")
	case in.LogGroupName == "":
		return nil, invalid("Either logGroupName or logGroupIdentifier must be specified")
	case len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "":
		return nil, invalid("logStreamNames and logStreamNamePrefix cannot both be specified")
	case in.LogGroupName != LogGroup:
		return nil, &serviceError{http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist."}
	}
	pattern, err := parseFilterPattern(in.FilterPattern)
	if err != nil {
		return nil, invalid("Invalid filter pattern: " + err.Error())
	}
	from, to := s.started.Add(-history), s.clock.Now()
	if in.StartTime != nil {
		from = later(from, time.UnixMilli(*in.StartTime))
	}
	if in.EndTime != nil {
		to = earlier(to, time.UnixMilli(*in.EndTime))
	}
	var matched []logEvent
	for _, e := range s.logEvents(from, to) {
		if (len(in.LogStreamNames) == 0 || slices.Contains(in.LogStreamNames, e.stream)) &&
			strings.HasPrefix(e.stream, in.LogStreamNamePrefix) && pattern.matches(e.message) {
			matched = append(matched, e)
		}
	}
	offset := 0
	if in.NextToken != "" {
		// The token is the offset of the page's first event: the events of a window never change,
		// since faults keep their history and new events only arrive after the old ones.
		offset, err = strconv.Atoi(in.NextToken)
		if err != nil || offset <= 0 || offset > len(matched) {
			return nil, invalid("The specified nextToken is invalid.")
		}
	}
	page := logPageSize
	if in.Limit > 0 {
		page = min(page, in.Limit)
	}
	end := min(offset+page, len(matched))
	events := []any{}
	for _, e := range matched[offset:end] {
		events = append(events, map[string]any{
			"eventId":       e.id,
			"logStreamName": e.stream,
			"timestamp":     e.at.UnixMilli(),
			"ingestionTime": e.at.UnixMilli(),
			"message":       e.message,
		})
	}
	output := map[string]any{"events": events, "searchedLogStreams": []any{}}
	if end < len(matched) {
		output["nextToken"] = strconv.Itoa(end)
	}
	return output, nil
}

// logEvents generates the log group's events from from to to, both inclusive, oldest first.
func (s *Server) logEvents(from, to time.Time) []logEvent {
	streams := targetGroups[0].targets
	var events []logEvent
	first := from.Truncate(infoInterval)
	if first.Before(from) {
		first = first.Add(infoInterval)
	}
	for t := first; !t.After(to); t = t.Add(infoInterval) {
		tick := t.UnixMilli() / infoInterval.Milliseconds()
		events = append(events, logEvent{
			id: fmt.Sprintf("%d0", t.UnixMilli()), stream: streams[tick%3].id, message: infoLine, at: t,
		})
		if t.UnixMilli()%errorInterval.Milliseconds() == 0 && s.faults.ActiveAt(FaultLogsErrors, t) {
			events = append(events, logEvent{
				id: fmt.Sprintf("%d1", t.UnixMilli()), stream: streams[(tick+1)%3].id, message: errorLine, at: t,
			})
		}
	}
	return events
}

// filterPattern is a CloudWatch Logs term pattern: every plain term must occur in the message,
// at least one ?term when there are any, and no -term; a "quoted phrase" is one term; matching is
// case-sensitive. JSON ({ … }) and space-delimited ([ … ]) patterns are not supported.
type filterPattern struct{ all, anyOf, none []string }

func parseFilterPattern(text string) (filterPattern, error) {
	var p filterPattern
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "{") || strings.HasPrefix(text, "[") {
		return p, errors.New("the sandbox supports term filter patterns only, not JSON or space-delimited ones")
	}
	for text != "" {
		list := &p.all
		switch text[0] {
		case '?':
			list, text = &p.anyOf, text[1:]
		case '-':
			list, text = &p.none, text[1:]
		}
		var term string
		if quoted, ok := strings.CutPrefix(text, `"`); ok {
			var closed bool
			term, text, closed = strings.Cut(quoted, `"`)
			if !closed {
				return p, errors.New("unterminated quote")
			}
		} else {
			term, text, _ = strings.Cut(text, " ")
		}
		if term != "" {
			*list = append(*list, term)
		}
		text = strings.TrimSpace(text)
	}
	return p, nil
}

func (p filterPattern) matches(message string) bool {
	contained := func(term string) bool { return strings.Contains(message, term) }
	return !slices.ContainsFunc(p.all, func(t string) bool { return !contained(t) }) &&
		!slices.ContainsFunc(p.none, contained) &&
		(len(p.anyOf) == 0 || slices.ContainsFunc(p.anyOf, contained))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
