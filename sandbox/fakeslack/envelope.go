package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// maxRetries is how often Slack re-delivers an envelope that is not acknowledged in time.
const maxRetries = 3

// Envelope types, as Slack names them.
const (
	envelopeSlashCommand = "slash_commands"
	envelopeInteractive  = "interactive"
	envelopeEvent        = "events_api"
)

type envelopeState int

const (
	pending envelopeState = iota
	acked
	expired   // every retry timed out: Slack stopped waiting
	abandoned // never sent (no connection), or the person gave up (ctx): acks are ignored
)

// envelope is one Socket Mode request and what became of it; guarded by Server.mu.
type envelope struct {
	id              string
	kind            string
	payload         json.RawMessage
	acceptsResponse bool
	state           envelopeState
	attempt         int // retry_attempt of the latest delivery
	deliveries      int
	acks            int
	firstSent       time.Time // real time
	result          chan ackResult
}

type ackResult struct {
	payload json.RawMessage
	latency time.Duration
}

// Delivery is what became of one envelope sent on behalf of a person.
type Delivery struct {
	EnvelopeID string
	// Acked reports that the bot acknowledged the envelope; Payload is what it sent back.
	Acked   bool
	Payload json.RawMessage
	// Latency runs from the first delivery to the acknowledgement.
	Latency time.Duration
	// Retries counts re-deliveries after a missed deadline.
	Retries int
	// DispatchFailed reports that no connection was open within the ack deadline, so Slack told
	// the person dispatch_failed.
	DispatchFailed bool
	// AwaitingConfirm reports that the button asked for confirmation: Slack opened its dialog and
	// sent nothing yet.
	AwaitingConfirm bool
}

// enqueue registers an envelope, so that Outstanding counts it from now on.
func (s *Server) enqueue(kind string, payload obj, acceptsResponse bool) (*envelope, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encoding a %s payload: %w", kind, err)
	}
	env := &envelope{
		id: uuid(), kind: kind, payload: data, acceptsResponse: acceptsResponse,
		result: make(chan ackResult, 1),
	}
	s.mu.Lock()
	s.socket.envelopes[env.id] = env
	s.socket.outstanding++
	s.mu.Unlock()
	return env, nil
}

// dispatch delivers env and waits for its ack the way Slack does: it waits up to the ack
// deadline for an open connection, then re-delivers after each missed deadline, up to maxRetries
// times, round-robin over the open connections.
func (s *Server) dispatch(ctx context.Context, env *envelope) (Delivery, error) {
	defer s.release(env)
	d := Delivery{EnvelopeID: env.id}
	if !s.awaitConnection(ctx) {
		s.finish(env, abandoned)
		if err := ctx.Err(); err != nil {
			return d, err
		}
		if s.ctx.Err() != nil {
			return d, ErrClosed
		}
		s.mu.Lock()
		s.stats.DispatchFailed++
		s.mu.Unlock()
		d.DispatchFailed = true
		return d, nil
	}
	s.send(env, firstDelivery)
	if s.takeDuplicate() {
		s.send(env, duplicateDelivery)
	}
	timer := time.NewTimer(s.opts.AckDeadline)
	defer timer.Stop()
	for {
		select {
		case r := <-env.result:
			d.Acked, d.Payload, d.Latency = true, r.payload, r.latency
			return d, nil
		case <-timer.C:
			if d.Retries < maxRetries && s.send(env, retryDelivery) {
				d.Retries++
				timer.Reset(s.opts.AckDeadline)
				continue
			}
			s.finish(env, expired)
			select { // an ack may have won the race against the last deadline
			case r := <-env.result:
				d.Acked, d.Payload, d.Latency = true, r.payload, r.latency
			default:
			}
			return d, nil
		case <-ctx.Done():
			s.finish(env, abandoned)
			return d, ctx.Err()
		case <-s.ctx.Done():
			return d, ErrClosed
		}
	}
}

// awaitConnection waits up to the ack deadline for a connection that takes envelopes.
func (s *Server) awaitConnection(ctx context.Context) bool {
	deadline := time.NewTimer(s.opts.AckDeadline)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		open := false
		for _, c := range s.socket.conns {
			open = open || !c.draining
		}
		changed := s.socket.changed
		s.mu.Unlock()
		if open {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		case <-s.ctx.Done():
			return false
		}
	}
}

type deliveryKind int

const (
	firstDelivery deliveryKind = iota
	duplicateDelivery
	retryDelivery
)

// send delivers env once more on the next connection. A duplicate or a retry carries the next
// retry_attempt and retry_reason "timeout". A retry is sent only while env waits for its ack; a
// duplicate stands for Slack having missed the ack, so it goes out regardless. It reports whether
// it sent.
func (s *Server) send(env *envelope, kind deliveryKind) bool {
	s.mu.Lock()
	if env.state != pending && kind != duplicateDelivery {
		s.mu.Unlock()
		return false
	}
	reason := ""
	if kind == firstDelivery {
		env.firstSent = time.Now()
	} else {
		env.attempt++
		reason = "timeout"
	}
	if kind == retryDelivery {
		s.stats.Retries++
	}
	env.deliveries++
	s.stats.EnvelopesSent++
	conn := s.socket.pick()
	frame := obj{
		"envelope_id": env.id, "type": env.kind, "payload": env.payload,
		"accepts_response_payload": env.acceptsResponse, "retry_attempt": env.attempt, "retry_reason": reason,
	}
	s.mu.Unlock()
	if conn == nil {
		return true // every connection went away; the next retry may find one
	}
	if err := conn.write(frame); err != nil {
		s.opts.Logger.Info().Err(err).Str("envelope_id", env.id).Msg("delivery failed")
	}
	return true
}

func (s *Server) takeDuplicate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.duplicateNext == 0 {
		return false
	}
	s.faults.duplicateNext--
	s.stats.Duplicates++
	return true
}

// release drops the payload of an envelope that will not be sent again; the record stays to
// recognise late acks.
func (s *Server) release(env *envelope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	env.payload = nil
}

// finish ends a pending envelope's wait.
func (s *Server) finish(env *envelope, state envelopeState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if env.state != pending {
		return
	}
	env.state = state
	s.socket.outstanding--
	if state == expired {
		s.stats.Expired++
	}
}

// ack handles one frame from the bot: an acknowledgement {envelope_id, payload} that reached
// the sandbox's socket at received (stampingListener). The ack's latency ends there.
func (s *Server) ack(frame []byte, received time.Time) {
	var a struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := json.Unmarshal(frame, &a); err != nil || a.EnvelopeID == "" {
		s.ackError(&s.stats.UnknownAcks, "unreadable frame from the bot: %.200s", frame)
		return
	}
	env := s.socket.envelopes[a.EnvelopeID]
	switch {
	case env == nil:
		s.ackError(&s.stats.UnknownAcks, "ack for unknown envelope %s", a.EnvelopeID)
	case env.state == abandoned:
	case env.state == expired:
		s.ackError(&s.stats.LateAcks, "ack for envelope %s after Slack stopped waiting for it", a.EnvelopeID)
	case env.state == acked:
		env.acks++
		if env.acks > env.deliveries {
			s.ackError(&s.stats.UnknownAcks, "envelope %s acked %d times but delivered %d times", env.id, env.acks, env.deliveries)
		}
	default:
		latency := received.Sub(env.firstSent)
		env.state = acked
		s.socket.outstanding--
		env.acks++
		s.stats.Acked++
		s.stats.AckLatencies = append(s.stats.AckLatencies, latency)
		if latency > s.opts.AckDeadline {
			s.ackError(&s.stats.LateAcks, "envelope %s acked after %v, deadline %v", env.id, latency.Round(time.Millisecond), s.opts.AckDeadline)
		}
		env.result <- ackResult{payload: a.Payload, latency: latency}
	}
}

// ackError counts and describes an acknowledgement Slack would not have accepted. Callers hold
// s.mu.
func (s *Server) ackError(counter *int, format string, args ...any) {
	*counter++
	msg := fmt.Sprintf(format, args...)
	s.stats.AckErrors = append(s.stats.AckErrors, msg)
	s.opts.Logger.Warn().Msg(msg)
}

// Outstanding returns how many envelopes are waiting for an acknowledgement, including those
// waiting for a connection. Zero means the bot has caught up.
func (s *Server) Outstanding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.socket.outstanding
}

// DuplicateNext makes the next n envelopes arrive twice, the copy marked as a retry, as Slack
// does when it did not see an ack in time.
func (s *Server) DuplicateNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.duplicateNext += n
}

// RateLimitNext answers the next n Web API calls with HTTP 429 and Retry-After: 1.
func (s *Server) RateLimitNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.rateLimitNext += n
}
