package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/integrations/slackapi"
	"github.com/opsbot-dev/opsbot/store"
)

// OutboxOptions tune the outbox worker.
type OutboxOptions struct {
	// Poll is how often the worker looks for due messages when nobody nudged it. Default 250ms:
	// a message queued by another replica waits at most that long.
	Poll time.Duration
	// Lease is how long a claimed message is ours before another replica may take it.
	// Default 30s, far above the slowest Slack call.
	Lease time.Duration
	// Limits override SlackLimits (benchmarks and tests).
	Limits map[string]Limit
	// MaxPaceWait is the longest the worker sleeps for the pacer before putting a message back
	// with a due time instead. Default 2s.
	MaxPaceWait time.Duration
	// Parallel is how many Slack calls are made at once. Default 8. A channel waiting for its
	// rate limit does not hold one.
	Parallel int
	// MaxClaimed is the most messages the worker holds claimed at once. Default 100. Without a
	// bound it would claim a backlog faster than Slack takes it, and a message still waiting
	// for a slot when its lease ran out could be claimed, and sent, by another replica too.
	MaxClaimed int
	// Responder posts replies to their response_url while it is fresh. Without one, every
	// reply goes through chat.postEphemeral.
	Responder *slackapi.Responder
}

// methodResponseURL names a post to a reply's response_url among the Web API methods: it is
// not paced, as Slack limits a response_url to five posts, not to so many a minute.
const methodResponseURL = "response_url"

// Slack honours a response_url for 30 minutes and five posts. A reply older than
// responseURLFresh, or tried responseURLTries times, goes through chat.postEphemeral instead.
const (
	responseURLFresh = 25 * time.Minute
	responseURLTries = 3
)

// outboxMetadataType marks the bot's posts so that a post whose success was never recorded
// (a crash between Slack's answer and the store's write) can be found and not posted twice.
const outboxMetadataType = "opsbot_outbox"

type outboxWorker struct {
	api     *slack.Client
	st      store.Store
	clock   clock.Clock
	metrics *Metrics
	log     zerolog.Logger
	owner   string
	opts    OutboxOptions
	pacer   *pacer
	wake    chan struct{}
	// slots holds one token per Slack call in flight: at most Parallel at once.
	slots chan struct{}
	// sending counts the channels' goroutines that drainOnce started, and claimed the messages
	// they hold (at most MaxClaimed).
	sending sync.WaitGroup
	claimed atomic.Int64
	// claiming makes a claim and its count one step: run and, at shutdown, flush both claim.
	claiming sync.Mutex
	// sent is what Slack took and the store has not been told of yet, from every channel.
	sent receipts
}

func newOutboxWorker(api *slack.Client, st store.Store, clk clock.Clock, m *Metrics, log zerolog.Logger, owner string, opts OutboxOptions) *outboxWorker {
	if opts.Poll <= 0 {
		opts.Poll = 250 * time.Millisecond
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Limits == nil {
		opts.Limits = SlackLimits
	}
	if opts.MaxPaceWait <= 0 {
		opts.MaxPaceWait = 2 * time.Second
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 8
	}
	if opts.MaxClaimed <= 0 {
		opts.MaxClaimed = 100
	}
	return &outboxWorker{
		api: api, st: st, clock: clk, metrics: m, owner: owner, opts: opts,
		log:   log.With().Str("component", "outbox").Logger(),
		pacer: newPacer(opts.Limits),
		wake:  make(chan struct{}, 1),
		slots: make(chan struct{}, opts.Parallel),
	}
}

// nudge makes the worker look for work now.
func (w *outboxWorker) nudge() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *outboxWorker) idle(ctx context.Context) bool {
	pending, _, err := w.st.OutboxStats(ctx)
	return err == nil && pending == 0
}

// run drains the outbox until ctx is cancelled, and returns once the channels it was writing
// to have stopped.
func (w *outboxWorker) run(ctx context.Context) {
	defer w.sending.Wait()
	poll := time.NewTicker(w.opts.Poll)
	defer poll.Stop()
	for {
		for w.drainOnce(ctx) > 0 {
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-poll.C:
		}
	}
}

// flush drains until nothing is pending or ctx ends. ctx bounds the deliveries too: a backlog
// paced out over minutes (Slack allows 100 ephemerals a minute) must not hold up shutdown.
func (w *outboxWorker) flush(ctx context.Context) {
	for !w.idle(ctx) {
		if w.drainOnce(ctx) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.opts.Poll):
		}
		if ctx.Err() != nil {
			// The store is asked with a context of its own: ctx is over.
			count, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			pending, _, _ := w.st.OutboxStats(count)
			cancel()
			w.log.Warn().Int("pending", pending).Msg("shutting down with messages still in the outbox; they are kept and sent at the next start")
			return
		}
	}
}

// drainOnce claims the due messages and starts sending them: a goroutine per channel, each
// channel in order. It does not wait for them. A channel waiting for its rate limit must not
// hold up the others: when it did, every stakeholder channel of an incident got its next note
// a second late, while the incident's own channel waited for its limit (BENCHMARKS.md, section
// 2). A channel's next message is claimed once its last is recorded, which nudges the worker.
// It returns how many messages it claimed.
func (w *outboxWorker) drainOnce(ctx context.Context) int {
	msgs, err := w.claim(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error().Err(err).Msg("claiming outbox messages failed")
		}
		return 0
	}
	byChannel := map[string][]store.OutboxMessage{}
	var order []string
	for _, m := range msgs {
		if _, ok := byChannel[m.Channel]; !ok {
			order = append(order, m.Channel)
		}
		byChannel[m.Channel] = append(byChannel[m.Channel], m)
	}
	for _, ch := range order {
		w.sending.Go(func() {
			for _, m := range byChannel[ch] {
				w.deliver(ctx, m)
			}
			w.record(ctx)
			w.claimed.Add(-int64(len(byChannel[ch])))
			w.nudge()
		})
	}
	return len(msgs)
}

// claim claims as many due messages as the worker may still hold, and counts them held.
func (w *outboxWorker) claim(ctx context.Context) ([]store.OutboxMessage, error) {
	w.claiming.Lock()
	defer w.claiming.Unlock()
	room := w.opts.MaxClaimed - int(w.claimed.Load())
	if room <= 0 {
		return nil, nil // a goroutine that finishes nudges the worker
	}
	msgs, err := w.st.ClaimOutbox(ctx, w.owner, w.clock.Now(), w.opts.Lease, room)
	w.claimed.Add(int64(len(msgs)))
	return msgs, err
}

// recordTimeout bounds recording what Slack took, which goes on after a shutdown began.
const recordTimeout = 5 * time.Second

// receipts are the messages Slack took and the store has not been told of yet. The channels'
// goroutines share them, so that one commit records what several of them sent.
type receipts struct {
	mu        sync.Mutex
	list      []store.OutboxReceipt
	recording sync.Mutex // held while a batch is being recorded
}

func (r *receipts) add(receipt store.OutboxReceipt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, receipt)
}

func (r *receipts) take() []store.OutboxReceipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.list
	r.list = nil
	return list
}

// record tells the store what Slack took, once a channel's claimed messages are sent and
// before anything that waits, so that a crash leaves little sent but not recorded: a post is
// then found again by its metadata, a reply would be sent again. It returns once what the
// caller added is recorded. That may be by another channel's goroutine: whoever records takes
// every receipt added so far, in one transaction (group commit), so that a hundred channels
// written to at once do not make a hundred commits, one after another at the one writer.
func (w *outboxWorker) record(ctx context.Context) {
	// Whoever held the lock before us took, and recorded, what was added before it took.
	w.sent.recording.Lock()
	defer w.sent.recording.Unlock()
	batch := w.sent.take()
	if len(batch) == 0 {
		return
	}
	// Slack has them: a shutdown that began meanwhile must not keep that from the store.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := w.st.CompleteOutbox(ctx, w.owner, w.clock.Now(), batch...); err != nil {
		w.log.Error().Err(err).Int("messages", len(batch)).Msg("Slack took the messages but recording them failed; a post will be found by its metadata, not re-posted")
	}
}

// deliver makes one Slack write for a claimed message, holding a slot while it calls Slack. A
// failure is recorded at once; a success is added to w.sent, for record.
func (w *outboxWorker) deliver(ctx context.Context, m store.OutboxMessage) {
	if !w.takeSlot(ctx) {
		return
	}
	holding := true
	defer func() {
		if holding {
			w.freeSlot()
		}
	}()
	method := w.methodFor(m)
	log := w.log.With().Str("key", m.Key).Str("method", method).Str("channel", m.Channel).Logger()
	if method == methodResponseURL {
		if !w.respond(ctx, log, m) {
			return
		}
		method = "chat.postEphemeral"
		log = log.With().Str("method", method).Logger()
	}

	wait, fromFull := w.pacer.reserve(method, m.Channel, time.Now())
	if wait > 0 {
		if wait > w.opts.MaxPaceWait || !w.holds(m, wait) {
			w.pacer.release(method, m.Channel)
			w.retry(ctx, log, m, wait, "paced: waiting for Slack's rate limit")
			return
		}
		// Waiting, the slot is free for another channel.
		w.freeSlot()
		holding = false
		w.record(ctx)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		if !w.takeSlot(ctx) {
			return
		}
		holding = true
	}

	ts, err := w.send(ctx, m, method)
	if fromFull {
		w.pacer.restart(method, m.Channel, time.Now())
	}
	if err == nil {
		w.took(m, method, ts)
		return
	}
	v := classify(err, m.Attempts)
	switch {
	case v.rateLimited:
		w.count(method, "ratelimited")
		w.pacer.block(method, m.Channel, time.Now().Add(v.after))
		w.retry(ctx, log, m, v.after, err.Error())
	case v.retry:
		w.count(method, "retry")
		log.Warn().Err(err).Int("attempt", m.Attempts).Dur("after", v.after).Msg("Slack write failed; retrying")
		w.retry(ctx, log, m, v.after, err.Error())
	default:
		w.count(method, "refused")
		log.Error().Err(err).Msg("Slack refused the message for good; it is kept as dead in the outbox")
		if err := w.st.KillOutbox(ctx, m.ID, w.owner, err.Error()); err != nil {
			log.Error().Err(err).Msg("recording a dead outbox message failed")
		}
	}
}

// respond posts a reply to its response_url: a success is added to w.sent, a failure recorded at
// once. It reports whether the reply must go through chat.postEphemeral now: the URL expired or
// was used up, which Slack tells only by refusing it.
func (w *outboxWorker) respond(ctx context.Context, log zerolog.Logger, m store.OutboxMessage) (fallBack bool) {
	msg, err := webhookMessage(m)
	if err == nil {
		err = w.opts.Responder.Respond(ctx, m.ResponseURL, msg)
	}
	if err == nil {
		w.took(m, methodResponseURL, "")
		return false
	}
	if v := classify(err, m.Attempts); v.retry {
		w.count(methodResponseURL, "retry")
		log.Warn().Err(err).Int("attempt", m.Attempts).Dur("after", v.after).Msg("posting a reply to its response URL failed; retrying")
		w.retry(ctx, log, m, v.after, err.Error())
		return false
	}
	w.count(methodResponseURL, "refused")
	log.Warn().Err(err).Msg("the response URL refused the reply; sending it with chat.postEphemeral")
	return true
}

// took notes that Slack took the message, for record.
func (w *outboxWorker) took(m store.OutboxMessage, method, ts string) {
	w.count(method, "ok")
	w.sent.add(store.OutboxReceipt{ID: m.ID, Revision: m.Revision, TS: ts})
}

// holds reports whether the lease on a claimed message lasts through waiting for wait and
// then sending, with a third of a lease to spare for the Slack call. A message sent on a lapsed
// lease may have been claimed, and sent, by another replica meanwhile; one put back is not.
// Waits add up: a channel's messages are sent one after another, each paced in turn.
func (w *outboxWorker) holds(m store.OutboxMessage, wait time.Duration) bool {
	return m.LeaseUntil != nil && w.clock.Now().Add(wait+w.opts.Lease/3).Before(*m.LeaseUntil)
}

// takeSlot waits for one of the Parallel slots for Slack calls; false if ctx ended first.
func (w *outboxWorker) takeSlot(ctx context.Context) bool {
	select {
	case w.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *outboxWorker) freeSlot() { <-w.slots }

func (w *outboxWorker) retry(ctx context.Context, log zerolog.Logger, m store.OutboxMessage, after time.Duration, why string) {
	if err := w.st.RetryOutbox(ctx, m.ID, w.owner, w.clock.Now().Add(after), why); err != nil {
		log.Error().Err(err).Msg("putting an outbox message back failed; its lease will expire and it will be retried")
	}
}

func (w *outboxWorker) count(method, result string) {
	if w.metrics != nil {
		w.metrics.outboxSends.WithLabelValues(method, result).Inc()
	}
}

// methodFor chooses how a message reaches Slack.
func (w *outboxWorker) methodFor(m store.OutboxMessage) string {
	switch {
	case m.Op == store.OpEphemeral && m.ResponseURL != "" && w.opts.Responder != nil &&
		w.clock.Now().Sub(m.CreatedAt) < responseURLFresh && m.Attempts <= responseURLTries:
		return methodResponseURL
	case m.Op == store.OpEphemeral:
		return "chat.postEphemeral"
	case m.TS != "":
		return "chat.update"
	default:
		return "chat.postMessage"
	}
}

// send performs the write and returns the message's ts.
func (w *outboxWorker) send(ctx context.Context, m store.OutboxMessage, method string) (string, error) {
	opts, err := messageOptions(m)
	if err != nil {
		return "", err
	}
	switch method {
	case "chat.postEphemeral":
		return w.api.PostEphemeralContext(ctx, m.Channel, m.User, opts...)
	case "chat.update":
		_, ts, _, err := w.api.UpdateMessageContext(ctx, m.Channel, m.TS, opts...)
		return ts, err
	}
	// A post that was claimed before may have reached Slack without the store hearing of it.
	// An upsert restarts Attempts, so a later revision not yet posted may have been tried too.
	if m.Attempts > 1 || m.Revision > 1 {
		found, err := w.findPosted(ctx, m)
		if err != nil {
			return "", fmt.Errorf("looking for an earlier post of %s: %w", m.Key, err)
		}
		if found != nil {
			if found.rev == m.Revision {
				return found.ts, nil
			}
			_, ts, _, err := w.api.UpdateMessageContext(ctx, m.Channel, found.ts, opts...)
			return ts, err
		}
	}
	meta := slack.SlackMetadata{EventType: outboxMetadataType, EventPayload: map[string]any{
		"key": m.Key, "rev": strconv.FormatInt(m.Revision, 10),
	}}
	opts = append(opts, slack.MsgOptionMetadata(meta))
	if m.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(m.ThreadTS))
	}
	_, ts, err := w.api.PostMessageContext(ctx, m.Channel, opts...)
	return ts, err
}

func messageOptions(m store.OutboxMessage) ([]slack.MsgOption, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	switch {
	case len(m.Blocks) > 0:
		blocks, err := decodeBlocks(m)
		if err != nil {
			return nil, err
		}
		opts = append(opts, slack.MsgOptionBlocks(blocks.BlockSet...))
	case m.Upsert:
		// chat.update keeps a message's blocks when it is sent none: a text-only revision of
		// a message that had buttons would still show them. The text becomes its one block.
		opts = append(opts, slack.MsgOptionBlocks(slack.NewSectionBlock(
			slack.NewTextBlockObject(slack.MarkdownType, m.Text, false, false), nil, nil)))
	}
	return opts, nil
}

// webhookMessage is a reply as a response_url takes it: shown to the person alone, beside the
// message they acted on rather than in its place.
func webhookMessage(m store.OutboxMessage) (*slack.WebhookMessage, error) {
	msg := &slack.WebhookMessage{Text: m.Text, ResponseType: slack.ResponseTypeEphemeral}
	if len(m.Blocks) > 0 {
		blocks, err := decodeBlocks(m)
		if err != nil {
			return nil, err
		}
		msg.Blocks = &blocks
	}
	return msg, nil
}

// decodeBlocks reads a message's stored Block Kit blocks.
func decodeBlocks(m store.OutboxMessage) (slack.Blocks, error) {
	var blocks slack.Blocks
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		return slack.Blocks{}, fmt.Errorf("decoding the blocks of %s: %w", m.Key, err)
	}
	return blocks, nil
}

type postedMessage struct {
	ts  string
	rev int64
}

// findPosted looks through the channel (or thread) since the message was queued for a post of
// ours carrying the message's key in its metadata.
func (w *outboxWorker) findPosted(ctx context.Context, m store.OutboxMessage) (*postedMessage, error) {
	oldest := strconv.FormatInt(m.CreatedAt.Add(-time.Minute).Unix(), 10)
	cursor := ""
	for page := 0; page < 5; page++ {
		var msgs []slack.Message
		var next string
		var err error
		if m.ThreadTS != "" {
			msgs, _, next, err = w.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: m.Channel, Timestamp: m.ThreadTS, Oldest: oldest, Cursor: cursor, Limit: 200, IncludeAllMetadata: true,
			})
		} else {
			var resp *slack.GetConversationHistoryResponse
			resp, err = w.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
				ChannelID: m.Channel, Oldest: oldest, Cursor: cursor, Limit: 200, IncludeAllMetadata: true,
			})
			if resp != nil {
				// Not resp.ResponseMetadata: the response's own ResponseMetaData field shadows
				// it when decoding, so it is always empty.
				msgs, next = resp.Messages, resp.ResponseMetaData.NextCursor
			}
		}
		if err != nil {
			return nil, err
		}
		for _, msg := range msgs {
			md := msg.Metadata
			if md.EventType != outboxMetadataType || md.EventPayload["key"] != m.Key {
				continue
			}
			rev, _ := strconv.ParseInt(fmt.Sprint(md.EventPayload["rev"]), 10, 64)
			return &postedMessage{ts: msg.Timestamp, rev: rev}, nil
		}
		if next == "" {
			return nil, nil
		}
		cursor = next
	}
	return nil, errors.New("too many messages since it was queued to be sure")
}
