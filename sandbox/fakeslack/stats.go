package fakeslack

import (
	"errors"
	"maps"
	"math"
	"slices"
	"time"
)

// Stats counts what the bot did and what Slack would have held against it.
type Stats struct {
	EnvelopesSent  int // envelope frames written, duplicates and retries included
	Acked          int // envelopes acknowledged
	Retries        int // re-deliveries after a missed ack deadline
	Duplicates     int // copies sent by DuplicateNext
	Expired        int // envelopes never acknowledged, after every retry
	DispatchFailed int // actions that found no connection open within the deadline
	LateAcks       int // acks after the deadline, or after Slack stopped waiting
	UnknownAcks    int // acks for no envelope, unreadable frames, more acks than deliveries
	// AckErrors describes every late or unknown ack.
	AckErrors []string
	// AckLatencies has one entry per acknowledged envelope, first delivery to ack, in ack order.
	AckLatencies []time.Duration
	// Calls counts Web API calls by method; RateLimited counts the ones answered 429.
	Calls       map[string]int
	RateLimited map[string]int
	// Refusals lists every call, ack payload or response_url post that Slack would have refused:
	// validation failures, unknown channels, bad tokens and the rest.
	Refusals []Refusal
}

// Refusal is one request answered {"ok":false}. Method is a Web API method, "response_url", or
// "ack:<envelope type>" for an acknowledgement whose payload Slack could not use.
type Refusal struct {
	Method   string
	Error    string
	Messages []string
}

func newStats() Stats {
	return Stats{Calls: map[string]int{}, RateLimited: map[string]int{}}
}

// Stats returns a copy of the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.AckErrors = slices.Clone(st.AckErrors)
	st.AckLatencies = slices.Clone(st.AckLatencies)
	st.Calls = maps.Clone(st.Calls)
	st.RateLimited = maps.Clone(st.RateLimited)
	st.Refusals = slices.Clone(st.Refusals)
	return st
}

// AckLatency returns the q-quantile (0.5 for the median, 0.99 for p99) of the ack latencies, by
// the nearest-rank method, or 0 when nothing was acknowledged.
func (st Stats) AckLatency(q float64) time.Duration {
	if len(st.AckLatencies) == 0 {
		return 0
	}
	sorted := slices.Clone(st.AckLatencies)
	slices.Sort(sorted)
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// refuse records a refusal and returns it as Slack's error. Callers hold s.mu.
func (s *Server) refuse(method string, err error) *apiError {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{code: "internal_error", messages: []string{err.Error()}}
	}
	s.stats.Refusals = append(s.stats.Refusals, Refusal{Method: method, Error: ae.code, Messages: ae.messages})
	s.opts.Logger.Info().Str("method", method).Str("error", ae.code).Strs("messages", ae.messages).Msg("refused")
	return ae
}
