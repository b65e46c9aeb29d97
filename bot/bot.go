// Package bot is opsbot's Slack transport: it keeps the Socket Mode connection, acknowledges
// every envelope before any slow work, hands each delivery (a retry under the same key as the
// first copy) to the application (commands) on a worker, and drains the durable outbox to the
// Web API at the pace Slack allows.
//
// Nothing here knows what a deploy is. Everything the bot says comes from the outbox, which the
// application fills; the bot only decides when and how it reaches Slack.
package bot

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/commands"
	"github.com/opsbot-dev/opsbot/store"
)

// Handler is the application behind the transport.
type Handler interface {
	// Immediate decides the acknowledgement of a delivery. It runs before the ack, so it must
	// not do I/O: parse errors and help can be answered here, nothing that needs the store.
	Immediate(in commands.Inbound) commands.Ack
	// Handle does the work for a delivery after the ack. It is called for every copy Slack
	// delivers: it recognises a retry by in.DeliveryKey() and returns commands.ErrDuplicate,
	// having done nothing again.
	Handle(ctx context.Context, in commands.Inbound) error
}

// Options configure a Bot. Slack, Store and Handler are required.
type Options struct {
	// Slack is the Web API client, built with the bot token, the app-level token
	// (slack.OptionAppLevelToken) and, for the sandbox, slack.OptionAPIURL.
	Slack   *slack.Client
	Store   store.Store
	Handler Handler
	Clock   clock.Clock
	Log     zerolog.Logger
	Metrics *Metrics
	// Replica names this process in leases (outbox claims); it must differ between replicas.
	Replica string
	// Workers is how many deliveries may be handled at once. Default 8: handlers mostly wait
	// on the store or a vendor, and more would only queue there.
	Workers int
	// Running is how many workers take deliveries from the start; default Workers. A delivery
	// still being handled after HandOffAfter is waiting on something, a vendor most likely
	// (/release asks GitHub for the newest tag): its worker hands the queue to a new one, up to
	// Workers, and ends with it. So one slow GitHub call never holds up an incident
	// declaration, whose form must open within 3 s.
	Running int
	// HandOffAfter is how long a delivery may keep its worker from the queue. Default 50 ms: a
	// handler that needs only the store takes about 1 ms.
	HandOffAfter time.Duration
	// ShutdownGrace bounds how long Run waits, once its context is cancelled, for in-flight
	// handlers and the outbox to finish. Default 10s, under Kubernetes' 30 s termination grace.
	ShutdownGrace time.Duration
	// SocketOptions are passed to socketmode.New (e.g. a ping interval for tests).
	SocketOptions []socketmode.Option
	// Outbox tunes the outbox worker; zero values take its defaults.
	Outbox OutboxOptions
}

// Bot serves Slack. Create it with New and start it with Run.
type Bot struct {
	opts      Options
	log       zerolog.Logger
	queue     *workQueue
	workers   sync.WaitGroup
	working   atomic.Int64 // workers started and not ended
	outbox    *outboxWorker
	connected atomic.Bool
	inFlight  atomic.Int64
}

// New checks the options and returns a Bot ready to Run.
func New(opts Options) (*Bot, error) {
	switch {
	case opts.Slack == nil:
		return nil, errors.New("bot: a Slack client is required")
	case opts.Store == nil:
		return nil, errors.New("bot: a store is required")
	case opts.Handler == nil:
		return nil, errors.New("bot: a handler is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.Running <= 0 || opts.Running > opts.Workers {
		opts.Running = opts.Workers
	}
	if opts.HandOffAfter <= 0 {
		opts.HandOffAfter = 50 * time.Millisecond
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 10 * time.Second
	}
	if opts.Replica == "" {
		opts.Replica = "opsbot"
	}
	b := &Bot{opts: opts, log: opts.Log.With().Str("component", "bot").Logger(), queue: newWorkQueue()}
	b.outbox = newOutboxWorker(opts.Slack, opts.Store, opts.Clock, opts.Metrics, b.log, opts.Replica, opts.Outbox)
	return b, nil
}

// Connected reports whether a Socket Mode connection is open (for /readyz).
func (b *Bot) Connected() bool { return b.connected.Load() }

// Idle reports whether the bot has nothing to do right now: no delivery waiting or being
// handled, and no outbox message due. The sandbox console's `:wait` uses it.
func (b *Bot) Idle(ctx context.Context) bool {
	if b.queue.len() > 0 || b.inFlight.Load() > 0 {
		return false
	}
	return b.outbox.idle(ctx)
}

// NudgeOutbox asks the outbox worker to look for work now rather than at its next poll.
func (b *Bot) NudgeOutbox() { b.outbox.nudge() }

// Run connects to Slack and serves until ctx is cancelled, then stops taking envelopes, lets
// in-flight handlers finish and flushes the outbox (bounded by ShutdownGrace). Handlers still
// running when the grace runs out have their context cancelled, and Run returns once they do.
// It returns an error only when Slack refuses the credentials or the connection cannot be kept.
func (b *Bot) Run(ctx context.Context) error {
	// Work (handlers, the outbox) outlives ctx by the shutdown grace so that what was acked is
	// still done; it is cancelled for good when that grace runs out.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()

	for range b.opts.Running {
		b.startWorker(workCtx)
	}
	outboxDone := make(chan struct{})
	go func() {
		defer close(outboxDone)
		b.outbox.run(workCtx)
	}()

	socketErr := b.serveSocket(ctx)

	// Shutdown: no more envelopes are read. Finish what was acked, then flush the outbox.
	// The grace is a context, not a timer: both waits below must see it run out.
	grace, graceOver := context.WithTimeout(workCtx, b.opts.ShutdownGrace)
	defer graceOver()
	b.queue.close()
	handlersDone := make(chan struct{})
	go func() {
		b.workers.Wait()
		close(handlersDone)
	}()
	select {
	case <-handlersDone:
	case <-grace.Done():
		b.log.Warn().Int("queued", b.queue.len()).Msg("shutdown grace ran out before every delivery was handled")
	}
	b.outbox.flush(grace)
	stopWork()
	<-handlersDone // handlers still running were just cancelled
	<-outboxDone
	return socketErr
}

// serveSocket keeps a Socket Mode connection open and acknowledges what arrives, until ctx is
// cancelled (nil) or Slack refuses the credentials (an error).
func (b *Bot) serveSocket(ctx context.Context) error {
	sm := socketmode.New(b.opts.Slack, append([]socketmode.Option{socketmode.OptionLog(socketLogger{b.log})}, b.opts.SocketOptions...)...)

	// Reading stops as soon as ctx is cancelled, but the socket itself is closed a moment
	// later so that acks already handed to it are written.
	sockCtx, closeSocket := context.WithCancel(context.WithoutCancel(ctx))
	defer closeSocket()
	runErr := make(chan error, 1)
	go func() { runErr <- sm.RunContext(sockCtx) }()

	for {
		select {
		case <-ctx.Done():
			b.log.Info().Msg("shutting down: no longer reading envelopes")
			time.Sleep(ackFlushDelay)
			closeSocket()
			<-runErr
			b.setConnected(false)
			return nil
		case err := <-runErr:
			b.setConnected(false)
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("connecting to Slack over Socket Mode: %w", err)
		case evt := <-sm.Events:
			b.onSocketEvent(ctx, sm, evt)
		}
	}
}

// ackFlushDelay is how long the socket stays open after the last envelope was read, so that
// the socketmode writer can send the acks queued before shutdown.
const ackFlushDelay = 200 * time.Millisecond

func (b *Bot) setConnected(up bool) {
	b.connected.Store(up)
	if b.opts.Metrics != nil {
		v := 0.0
		if up {
			v = 1
		}
		b.opts.Metrics.connected.Set(v)
	}
}

func (b *Bot) onSocketEvent(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		// slack-go reconnects on its own after a disconnect request or a dropped socket and
		// tells us nothing else: the old connection is gone by the time it connects again.
		b.setConnected(false)
		b.log.Debug().Msg("connecting to Slack")
	case socketmode.EventTypeConnected:
		b.setConnected(true)
		b.log.Info().Msg("connected to Slack over Socket Mode")
	case socketmode.EventTypeHello:
		b.setConnected(true)
	case socketmode.EventTypeConnectionError:
		b.setConnected(false)
		b.log.Warn().Err(connectionCause(evt)).Msg("Socket Mode connection failed; slack-go retries with backoff")
	case socketmode.EventTypeInvalidAuth:
		b.setConnected(false)
		b.log.Error().Msg("Slack refused the app-level token (SLACK_APP_TOKEN)")
	case socketmode.EventTypeDisconnect:
		b.setConnected(false)
		reason := ""
		if evt.Request != nil {
			reason = evt.Request.Reason
		}
		b.log.Info().Str("reason", reason).Msg("Slack asked us to reconnect")
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		b.log.Warn().Str("type", string(evt.Type)).Msg("Socket Mode transport error")
	case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
		b.acknowledge(ctx, sm, evt)
	}
}

func connectionCause(evt socketmode.Event) error {
	if e, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
		return e.ErrorObj
	}
	return nil
}

// acknowledge acks an envelope first, then queues its work.
func (b *Bot) acknowledge(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	received := time.Now()
	kind := string(evt.Type)
	if b.opts.Metrics != nil {
		b.opts.Metrics.envelopes.WithLabelValues(kind).Inc()
	}
	in, err := translate(evt, b.opts.Clock.Now())
	var ack commands.Ack
	switch {
	case err != nil:
		// Still ack: an envelope we cannot read would otherwise be retried three times.
		b.log.Warn().Err(err).Str("type", kind).Msg("acknowledging an envelope we could not read")
		ack = commands.Ack{Done: true}
	case in == nil:
		ack = commands.Ack{Done: true} // an interaction or event type we do not handle
	default:
		ack = b.opts.Handler.Immediate(in)
	}

	result := "ok"
	if evt.Request == nil {
		result = "no_envelope"
	} else if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, ack.Payload); err != nil {
		// The payload was too large or the socket is closing; ack without it so that Slack
		// does not retry, and say so.
		b.log.Error().Err(err).Str("type", kind).Msg("ack with payload failed; acking without it")
		result = "payload_dropped"
		_ = sm.AckCtx(ctx, evt.Request.EnvelopeID, nil)
	}
	if b.opts.Metrics != nil {
		b.opts.Metrics.acks.WithLabelValues(kind, result).Inc()
		b.opts.Metrics.ackLatency.WithLabelValues(kind).Observe(time.Since(received).Seconds())
	}
	if in != nil && !ack.Done {
		// AckCtx only hands the ack to slack-go's writer goroutine, which now waits in this
		// P's next slot. Waking a worker would take that slot, and the ack would wait for the
		// handler to block; yielding first lets the writer send it.
		runtime.Gosched()
		b.queue.push(in)
	}
}

// startWorker starts a worker, unless Workers are at work already.
func (b *Bot) startWorker(ctx context.Context) bool {
	for {
		n := b.working.Load()
		if n >= int64(b.opts.Workers) {
			return false
		}
		if b.working.CompareAndSwap(n, n+1) {
			b.workers.Go(func() { b.work(ctx) })
			return true
		}
	}
}

// work handles queued deliveries until the queue is closed and empty, or until it hands the
// queue to another worker.
func (b *Bot) work(ctx context.Context) {
	defer b.working.Add(-1)
	for {
		in, ok := b.queue.pop()
		if !ok {
			return
		}
		b.inFlight.Add(1)
		handedOff := b.handleOrHandOff(ctx, in)
		b.inFlight.Add(-1)
		b.outbox.nudge()
		if handedOff {
			return
		}
	}
}

// handleOrHandOff handles in. If that takes longer than HandOffAfter and fewer than Workers are
// at work, a new worker takes over the queue meanwhile, and it reports that this one should end.
// Workers are started only for a slow delivery, not handed a turn at every one: the wake-up of
// a turn passed at every delivery made the acks' p99 worse in 8 runs of 11 (BENCHMARKS.md,
// section 1).
func (b *Bot) handleOrHandOff(ctx context.Context, in commands.Inbound) (handedOff bool) {
	if b.opts.Running == b.opts.Workers {
		b.handle(ctx, in)
		return false
	}
	var (
		mu   sync.Mutex
		done bool
	)
	timer := time.AfterFunc(b.opts.HandOffAfter, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			handedOff = b.startWorker(ctx)
		}
	})
	b.handle(ctx, in)
	timer.Stop()
	mu.Lock()
	defer mu.Unlock()
	done = true
	return handedOff
}

func (b *Bot) handle(ctx context.Context, in commands.Inbound) {
	log := b.log.With().Str("delivery", in.DeliveryKey()).Str("user", in.Actor()).Logger()
	defer func() {
		if p := recover(); p != nil {
			log.Error().Interface("panic", p).Msg("handler panicked; the delivery is dropped")
			b.countHandled("panic")
		}
	}()
	err := b.opts.Handler.Handle(ctx, in)
	if errors.Is(err, commands.ErrDuplicate) {
		log.Debug().Msg("retried delivery already handled")
		if b.opts.Metrics != nil {
			b.opts.Metrics.duplicates.Inc()
		}
		return
	}
	if err != nil {
		log.Error().Err(err).Msg("handling a delivery failed")
		b.countHandled("error")
		return
	}
	b.countHandled("ok")
}

func (b *Bot) countHandled(result string) {
	if b.opts.Metrics != nil {
		b.opts.Metrics.handled.WithLabelValues(result).Inc()
	}
}

// socketLogger routes slack-go's socketmode logging into zerolog at debug level.
type socketLogger struct{ log zerolog.Logger }

func (l socketLogger) Output(_ int, s string) error {
	l.log.Debug().Str("component", "socketmode").Msg(s)
	return nil
}
