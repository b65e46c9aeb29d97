package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/bot"
	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/commands"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

func post(key, channel, text string) store.OutboxMessage {
	return store.OutboxMessage{Key: key, Op: store.OpPost, Channel: channel, Text: text}
}

// card is a status card: one message, edited in place as its run moves on.
func card(key, channel, text string) store.OutboxMessage {
	m := post(key, channel, text)
	m.Upsert = true
	return m
}

func reply(key, parent, channel, text string) store.OutboxMessage {
	m := post(key, channel, text)
	m.ThreadOf = parent
	return m
}

func ephemeral(key, channel, user, text string) store.OutboxMessage {
	return store.OutboxMessage{Key: key, Op: store.OpEphemeral, Channel: channel, User: user, Text: text}
}

// shown is a message as a person in the channel sees it.
type shown struct {
	Text   string
	Thread string // the text of the thread's parent; "" for a top-level message
	For    string // the only person who sees it; "" for everyone
	Edited bool
}

// shownBy returns what the bot shows in channel, oldest first.
func shownBy(w *world, channel string) []shown {
	msgs := w.botMessages(channel)
	textAt := map[string]string{}
	for _, m := range msgs {
		textAt[m.TS] = m.Text
	}
	out := []shown{}
	for _, m := range msgs {
		s := shown{Text: m.Text, For: m.For, Edited: m.Edited}
		if m.ThreadTS != "" {
			s.Thread = textAt[m.ThreadTS]
		}
		out = append(out, s)
	}
	return out
}

func rateLimited(st fakeslack.Stats) int {
	n := 0
	for _, count := range st.RateLimited {
		n += count
	}
	return n
}

// What the application puts into the outbox reaches Slack once, in order, in the right place.
func TestOutboxDeliversWhatTheApplicationSays(t *testing.T) {
	t.Parallel()
	sectionTooLong, err := json.Marshal([]map[string]any{{
		"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Repeat("x", 3001)},
	}})
	require.NoError(t, err)
	refused := post("too-long", fakeslack.Deploys, "a section over Slack's 3000 characters")
	refused.Blocks = sectionTooLong

	tests := []struct {
		name  string
		fault func(*fakeslack.Server)
		// batches are enqueued one after the other, each once Slack took or refused the one before.
		batches         [][]store.OutboxMessage
		want            map[string][]shown // channel → what the bot shows there
		dead            []string
		wantRateLimited int
	}{
		{
			name: "a card is posted once, then edited in place",
			batches: [][]store.OutboxMessage{
				{card("run:1", fakeslack.Deploys, "Deploy v1.0.0: started")},
				{card("run:1", fakeslack.Deploys, "Deploy v1.0.0: verifying")},
				{card("run:1", fakeslack.Deploys, "Deploy v1.0.0: done")},
			},
			want: map[string][]shown{fakeslack.Deploys: {{Text: "Deploy v1.0.0: done", Edited: true}}},
		},
		{
			name: "thread replies land in their parent's thread, after it",
			batches: [][]store.OutboxMessage{{
				card("run:1", fakeslack.Deploys, "Deploy v1.0.0"),
				reply("run:1/tag", "run:1", fakeslack.Deploys, "tagged v1.0.0"),
				post("notice", fakeslack.Deploys, "develop is frozen"),
				reply("run:1/merge", "run:1", fakeslack.Deploys, "merged to main"),
			}},
			want: map[string][]shown{fakeslack.Deploys: {
				{Text: "Deploy v1.0.0"},
				{Text: "tagged v1.0.0", Thread: "Deploy v1.0.0"},
				{Text: "develop is frozen"},
				{Text: "merged to main", Thread: "Deploy v1.0.0"},
			}},
		},
		{
			name: "each channel reads in the order things happened",
			batches: [][]store.OutboxMessage{{
				post("d1", fakeslack.Deploys, "d1"), post("i1", fakeslack.Incidents, "i1"),
				post("d2", fakeslack.Deploys, "d2"), post("i2", fakeslack.Incidents, "i2"),
				post("d3", fakeslack.Deploys, "d3"), post("i3", fakeslack.Incidents, "i3"),
			}},
			want: map[string][]shown{
				fakeslack.Deploys:   {{Text: "d1"}, {Text: "d2"}, {Text: "d3"}},
				fakeslack.Incidents: {{Text: "i1"}, {Text: "i2"}, {Text: "i3"}},
			},
		},
		{
			name:  "a burst of 429s delays messages but loses none",
			fault: func(s *fakeslack.Server) { s.RateLimitNext(3) },
			batches: [][]store.OutboxMessage{{
				post("d1", fakeslack.Deploys, "d1"), post("i1", fakeslack.Incidents, "i1"),
				post("d2", fakeslack.Deploys, "d2"), post("i2", fakeslack.Incidents, "i2"),
			}},
			want: map[string][]shown{
				fakeslack.Deploys:   {{Text: "d1"}, {Text: "d2"}},
				fakeslack.Incidents: {{Text: "i1"}, {Text: "i2"}},
			},
			wantRateLimited: 3,
		},
		{
			name: "a refused message is kept as dead and does not hold up its channel",
			batches: [][]store.OutboxMessage{{
				refused,
				post("after", fakeslack.Deploys, "the next message"),
				post("lost", "C0NOWHERE", "to a channel that does not exist"),
				reply("lost/reply", "lost", "C0NOWHERE", "in the thread of a message never posted"),
			}},
			want: map[string][]shown{fakeslack.Deploys: {{Text: "the next message"}}},
			dead: []string{"too-long", "lost", "lost/reply"},
		},
		{
			name: "an ephemeral is shown to its person only",
			batches: [][]store.OutboxMessage{{
				ephemeral("only-bob", fakeslack.Deploys, fakeslack.Bob, "you may not deploy to production"),
			}},
			want: map[string][]shown{fakeslack.Deploys: {{Text: "you may not deploy to production", For: fakeslack.Bob}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := start(t, setup{})
			if tc.fault != nil {
				tc.fault(w.slack)
			}
			for _, batch := range tc.batches {
				w.enqueue(t, batch...)
				var keys []string
				for _, m := range batch {
					keys = append(keys, m.Key)
				}
				w.awaitSettled(t, keys...)
			}

			for channel, want := range tc.want {
				require.Equal(t, want, shownBy(w, channel), "in %s", channel)
			}
			for _, key := range tc.dead {
				m, err := w.store.GetOutbox(t.Context(), key)
				require.NoError(t, err)
				require.Equal(t, store.OutboxDead, m.State, "%s: %s", key, m.LastError)
			}
			require.Equal(t, tc.wantRateLimited, rateLimited(w.slack.Stats()))
		})
	}
}

// forgetfulStore loses the record of the first outbox message Slack took, as a crash between
// Slack's answer and the store's write would.
type forgetfulStore struct {
	store.Store
	once sync.Once
	lost chan struct{} // closed once a completion was lost
}

func (s *forgetfulStore) CompleteOutbox(ctx context.Context, owner string, at time.Time, sent ...store.OutboxReceipt) error {
	forget := false
	s.once.Do(func() {
		forget = true
		close(s.lost)
	})
	if forget {
		return fmt.Errorf("completing outbox messages %v: %w", sent, store.ErrUnavailable)
	}
	return s.Store.CompleteOutbox(ctx, owner, at, sent...)
}

// A post that reached Slack but was never recorded as sent is found by its metadata when the
// message is tried again, and not posted a second time.
func TestOutboxDoesNotRepostWhatSlackAlreadyHas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// meanwhile happens between the lost completion and the retry.
		meanwhile func(t *testing.T, w *world)
		want      shown
	}{
		{
			name:      "the card is unchanged",
			meanwhile: func(*testing.T, *world) {},
			want:      shown{Text: "Deploy v1.0.0: started"},
		},
		{
			name: "the card changed meanwhile",
			meanwhile: func(t *testing.T, w *world) {
				w.enqueue(t, card("run:1", fakeslack.Deploys, "Deploy v1.0.0: done"))
			},
			want: shown{Text: "Deploy v1.0.0: done", Edited: true},
		},
		{
			name: "more than a page of messages came after it",
			meanwhile: func(t *testing.T, w *world) {
				for i := range 250 {
					_, _, err := w.api.PostMessageContext(t.Context(), fakeslack.Deploys,
						slack.MsgOptionText(fmt.Sprintf("chatter %d", i), false))
					require.NoError(t, err)
				}
			},
			want: shown{Text: "Deploy v1.0.0: started"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewOffset()
			forgetful := &forgetfulStore{lost: make(chan struct{})}
			w := start(t, setup{
				clock: clk,
				// Busy channels: the test posts as fast as it likes.
				limits: fakeslack.RateLimits{PostMessageInterval: time.Millisecond, PostMessageBurst: 1000},
				wrapStore: func(st store.Store) store.Store {
					forgetful.Store = st
					return forgetful
				},
				options: func(o *bot.Options) { o.Outbox.Lease = time.Minute },
			})

			w.enqueue(t, card("run:1", fakeslack.Deploys, "Deploy v1.0.0: started"))
			select {
			case <-forgetful.lost:
			case <-time.After(waitLimit):
				t.Fatal("the bot never completed a message")
			}
			tc.meanwhile(t, w)
			clk.Advance(2 * time.Minute) // the bot's own lease on the message runs out
			w.bot.NudgeOutbox()
			w.awaitSettled(t, "run:1")

			var cards []shown
			for _, s := range shownBy(w, fakeslack.Deploys) {
				if strings.HasPrefix(s.Text, "Deploy") {
					cards = append(cards, s)
				}
			}
			require.Equal(t, []shown{tc.want}, cards)
		})
	}
}

// The outbox paces itself to Slack's limits rather than learning them from 429s, which would
// delay messages by a second or more each time.
func TestOutboxStaysUnderSlacksRateLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits fakeslack.RateLimits
		pacer  map[string]bot.Limit // nil: bot.SlackLimits
		posts  int
	}{
		{name: "Slack's own limits", posts: 10},
		{
			// At a pace this close, network jitter alone would earn 429s if the pacer counted
			// its calls from when it allowed them rather than from when Slack saw them.
			name:   "a workspace fifty times faster",
			limits: fakeslack.RateLimits{PostMessageInterval: 20 * time.Millisecond, PostMessageBurst: 3},
			pacer:  map[string]bot.Limit{"chat.postMessage": {PerMinute: 3000, Burst: 3}},
			posts:  40,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := start(t, setup{limits: tc.limits, options: func(o *bot.Options) { o.Outbox.Limits = tc.pacer }})
			var want []shown
			var keys []string
			for i := range tc.posts {
				key := fmt.Sprintf("step %d", i+1)
				w.enqueue(t, post(key, fakeslack.Deploys, key))
				want = append(want, shown{Text: key})
				keys = append(keys, key)
			}
			w.awaitSettled(t, keys...)

			require.Equal(t, want, shownBy(w, fakeslack.Deploys))
			st := w.slack.Stats()
			require.Equal(t, tc.posts, st.Calls["chat.postMessage"])
			require.Zero(t, rateLimited(st), "429s: %v", st.RateLimited)
		})
	}
}

// Slack keeps a message's blocks when chat.update sends none, so a card whose new revision is
// text only must still lose the buttons of the old one.
func TestOutboxUpdateWithoutBlocksReplacesTheOldBlocks(t *testing.T) {
	t.Parallel()
	w := start(t, setup{})
	buttons, err := json.Marshal([]slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "v1.0.0 is ready. Approve?", false, false), nil, nil),
		slack.NewActionBlock("approval", slack.NewButtonBlockElement("deploy.approve", "1:abc:1",
			slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false))),
	})
	require.NoError(t, err)
	request := card("run:1/approval", fakeslack.Deploys, "v1.0.0 is ready. Approve?")
	request.Blocks = buttons
	w.enqueue(t, request)
	w.awaitSettled(t, "run:1/approval")

	w.enqueue(t, card("run:1/approval", fakeslack.Deploys, "~Approval requested~ — the release head moved"))
	w.awaitSettled(t, "run:1/approval")

	msgs := w.botMessages(fakeslack.Deploys)
	require.Len(t, msgs, 1)
	require.Equal(t, "~Approval requested~ — the release head moved", msgs[0].Text)
	require.NotContains(t, string(msgs[0].Blocks), "deploy.approve", "the old Approve button is gone")
	require.Contains(t, string(msgs[0].Blocks), "the release head moved", "the new text is what the blocks show")
}

// leaseWatch notes, for every outbox message the worker finishes, whether it still held the
// lease it claimed the message with: a message sent after its lease ran out may have been
// claimed and sent by another replica meanwhile.
type leaseWatch struct {
	store.Store
	clock  clock.Clock
	mu     sync.Mutex
	leases map[int64]store.OutboxMessage // message ID → its latest claim
	lapsed []string                      // keys of messages finished after their lease ended
}

func (s *leaseWatch) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.OutboxMessage, error) {
	msgs, err := s.Store.ClaimOutbox(ctx, owner, now, lease, limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		s.leases[m.ID] = m
	}
	return msgs, err
}

func (s *leaseWatch) CompleteOutbox(ctx context.Context, owner string, at time.Time, sent ...store.OutboxReceipt) error {
	s.mu.Lock()
	for _, m := range sent {
		if claim := s.leases[m.ID]; s.clock.Now().After(*claim.LeaseUntil) {
			s.lapsed = append(s.lapsed, claim.Key)
		}
	}
	s.mu.Unlock()
	return s.Store.CompleteOutbox(ctx, owner, at, sent...)
}

// Pacing holds a message back to stay under Slack's limits; it must never hold it past the
// lease it was claimed with, or another replica would claim it and post it a second time.
func TestOutboxNeverWaitsForThePacerPastItsLease(t *testing.T) {
	t.Parallel()
	watch := &leaseWatch{clock: clock.Real{}, leases: map[int64]store.OutboxMessage{}}
	w := start(t, setup{
		wrapStore: func(st store.Store) store.Store { watch.Store = st; return watch },
		options: func(o *bot.Options) {
			o.Outbox.Lease = time.Second
			o.Outbox.Limits = map[string]bot.Limit{"chat.update": {PerMinute: 60, Burst: 1}}
		},
	})
	var keys []string
	for i := range 4 {
		key := fmt.Sprintf("run:%d", i+1)
		w.enqueue(t, card(key, fakeslack.Deploys, key+" started"))
		keys = append(keys, key)
	}
	w.awaitSettled(t, keys...)
	// Four cards change at once: their updates are claimed together, and the pacer lets one
	// through a second.
	for _, key := range keys {
		w.enqueue(t, card(key, fakeslack.Deploys, key+" done"))
	}
	w.awaitSettled(t, keys...)

	var want []shown
	for _, key := range keys {
		want = append(want, shown{Text: key + " done", Edited: true})
	}
	require.Equal(t, want, shownBy(w, fakeslack.Deploys))
	watch.mu.Lock()
	defer watch.mu.Unlock()
	require.Empty(t, watch.lapsed, "sent after the lease ended")
}

// Slack allows 100 ephemeral replies a minute. When more are asked for, they wait their turn,
// but a deploy card queued after them must not wait with them.
func TestACardIsNotHeldUpByRepliesWaitingForSlacksRateLimit(t *testing.T) {
	t.Parallel()
	w := start(t, setup{options: func(o *bot.Options) {
		o.Outbox.Limits = map[string]bot.Limit{"chat.postEphemeral": {PerMinute: 60, Burst: 1}}
	}})
	var replies []string
	for i := range 4 {
		key := fmt.Sprintf("reply:%d", i+1)
		w.enqueue(t, ephemeral(key, fakeslack.Deploys, fakeslack.Alice, key))
		replies = append(replies, key)
	}
	w.enqueue(t, card("run:1", fakeslack.Deploys, "Deploy v1.0.0"))
	w.awaitSettled(t, "run:1")

	var before []string
	for _, m := range shownBy(w, fakeslack.Deploys) {
		before = append(before, m.Text)
	}
	require.Contains(t, before, "Deploy v1.0.0")
	require.Less(t, len(before), 1+len(replies), "the card was posted while replies still waited: %v", before)

	w.awaitSettled(t, replies...)
	var want []shown
	for _, key := range replies {
		want = append(want, shown{Text: key, For: fakeslack.Alice})
	}
	want = slices.Insert(want, len(before)-1, shown{Text: "Deploy v1.0.0"})
	require.Equal(t, want, shownBy(w, fakeslack.Deploys), "Alice's replies in order, the card among them")
}

// A channel waiting for its rate limit must not hold up another channel's messages: when it
// did, an incident's stakeholder channels got each note a second late.
func TestAChannelWaitingForItsRateLimitHoldsUpNoOther(t *testing.T) {
	t.Parallel()
	w := start(t, setup{options: func(o *bot.Options) {
		o.Outbox.Limits = map[string]bot.Limit{"chat.postMessage": {PerMinute: 60, Burst: 1}} // per channel
	}})
	w.enqueue(t, post("deploys:1", fakeslack.Deploys, "first"))
	w.enqueue(t, post("deploys:2", fakeslack.Deploys, "second, a second later"))
	// Alice's replies are sent one after another, each claimed once the last is recorded.
	var replies []string
	var want []shown
	for i := range 5 {
		key := fmt.Sprintf("reply:%d", i+1)
		w.enqueue(t, ephemeral(key, fakeslack.Incidents, fakeslack.Alice, key))
		replies = append(replies, key)
		want = append(want, shown{Text: key, For: fakeslack.Alice})
	}

	w.awaitSettled(t, replies...)
	require.Equal(t, want, shownBy(w, fakeslack.Incidents))
	require.Equal(t, []shown{{Text: "first"}}, shownBy(w, fakeslack.Deploys),
		"every reply was sent while #deploys waited for its rate limit")
	w.awaitSettled(t, "deploys:2")
	require.Equal(t, []shown{{Text: "first"}, {Text: "second, a second later"}}, shownBy(w, fakeslack.Deploys))
}

// claimWatch counts the outbox messages claimed and not yet recorded as sent.
type claimWatch struct {
	store.Store
	mu          sync.Mutex
	outstanding int
	most        int
}

func (s *claimWatch) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.OutboxMessage, error) {
	msgs, err := s.Store.ClaimOutbox(ctx, owner, now, lease, limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outstanding += len(msgs)
	s.most = max(s.most, s.outstanding)
	return msgs, err
}

func (s *claimWatch) CompleteOutbox(ctx context.Context, owner string, at time.Time, sent ...store.OutboxReceipt) error {
	err := s.Store.CompleteOutbox(ctx, owner, at, sent...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outstanding -= len(sent)
	return err
}

// The worker claims no more than it may hold: a backlog claimed faster than Slack takes it
// would wait past its leases, and another replica could send it too.
func TestOutboxHoldsNoMoreClaimedThanItMay(t *testing.T) {
	t.Parallel()
	watch := &claimWatch{}
	w := start(t, setup{
		wrapStore: func(st store.Store) store.Store { watch.Store = st; return watch },
		options:   func(o *bot.Options) { o.Outbox.MaxClaimed = 2 },
	})
	// Five lanes, each of which could be claimed at once.
	msgs := []store.OutboxMessage{
		post("deploys", fakeslack.Deploys, "deploys"), post("incidents", fakeslack.Incidents, "incidents"),
		post("stakeholders", fakeslack.Stakeholders, "stakeholders"),
		ephemeral("alice:deploys", fakeslack.Deploys, fakeslack.Alice, "alice:deploys"),
		ephemeral("alice:incidents", fakeslack.Incidents, fakeslack.Alice, "alice:incidents"),
	}
	var keys []string
	for _, m := range msgs {
		w.enqueue(t, m)
		keys = append(keys, m.Key)
	}
	w.awaitSettled(t, keys...)

	watch.mu.Lock()
	defer watch.mu.Unlock()
	require.LessOrEqual(t, watch.most, 2, "the most messages claimed and not yet sent at once")
	require.Zero(t, watch.outstanding)
}

// slashCommandResponseURL has Alice run a slash command in #deploys and returns the
// response_url Slack sent the bot with it.
func slashCommandResponseURL(t *testing.T, w *world) string {
	t.Helper()
	_, err := w.slack.SlashCommand(t.Context(), fakeslack.Alice, fakeslack.Deploys, "/deploy", "status")
	require.NoError(t, err)
	select {
	case in := <-w.handler.started:
		inv, ok := in.(commands.Invocation)
		require.True(t, ok, "a slash command reaches the handler as an Invocation, not %T", in)
		require.NotEmpty(t, inv.ResponseURL)
		return inv.ResponseURL
	case <-time.After(waitLimit):
		t.Fatal("the slash command never reached the handler")
		return ""
	}
}

func answer(key, channel, user, responseURL string) store.OutboxMessage {
	m := ephemeral(key, channel, user, key)
	m.ResponseURL = responseURL
	return m
}

// A reply to a slash command goes to its response_url: Slack does not pace those as it paces
// chat.postEphemeral, so a burst of questions is answered at once.
func TestRepliesGoToTheirResponseURLUnpaced(t *testing.T) {
	t.Parallel()
	w := start(t, setup{options: func(o *bot.Options) {
		o.Outbox.Limits = map[string]bot.Limit{"chat.postEphemeral": {PerMinute: 1, Burst: 1}}
	}})
	var keys []string
	var want []shown
	for i := range 3 {
		key := fmt.Sprintf("reply:%d", i+1)
		w.enqueue(t, answer(key, fakeslack.Deploys, fakeslack.Alice, slashCommandResponseURL(t, w)))
		keys = append(keys, key)
		want = append(want, shown{Text: key, For: fakeslack.Alice})
	}
	w.awaitSettled(t, keys...)

	require.Equal(t, want, shownBy(w, fakeslack.Deploys))
	st := w.slack.Stats()
	require.Zero(t, st.Calls["chat.postEphemeral"])
	require.Empty(t, st.Refusals)
}

// Slack honours a response_url for 30 minutes and five posts, and says so only by refusing it.
// A reply whose URL is refused, or too old to try, still reaches the person.
func TestAReplyWithoutAUsableResponseURLGoesThroughChatPostEphemeral(t *testing.T) {
	t.Parallel()
	t.Run("RefusedBySlack", func(t *testing.T) {
		t.Parallel()
		w := start(t, setup{})
		unknown := strings.TrimSuffix(w.slack.APIURL(), "api/") + "hooks/commands/T0/1/unknown"
		w.enqueue(t, answer("reply:1", fakeslack.Deploys, fakeslack.Alice, unknown))
		w.awaitSettled(t, "reply:1")

		require.Equal(t, []shown{{Text: "reply:1", For: fakeslack.Alice}}, shownBy(w, fakeslack.Deploys))
		st := w.slack.Stats()
		require.Equal(t, 1, st.Calls["chat.postEphemeral"])
		require.Len(t, st.Refusals, 1)
		require.Equal(t, "response_url", st.Refusals[0].Method)
	})
	t.Run("TooOldToTry", func(t *testing.T) {
		t.Parallel()
		clk := clock.NewOffset()
		w := start(t, setup{clock: clk})
		m := answer("reply:1", fakeslack.Deploys, fakeslack.Alice, slashCommandResponseURL(t, w))
		m.NextAt = clk.Now().Add(time.Minute) // held back, say by a 429, while the URL ages
		w.enqueue(t, m)
		clk.Advance(26 * time.Minute)
		w.bot.NudgeOutbox()
		w.awaitSettled(t, "reply:1")

		require.Equal(t, []shown{{Text: "reply:1", For: fakeslack.Alice}}, shownBy(w, fakeslack.Deploys))
		st := w.slack.Stats()
		require.Equal(t, 1, st.Calls["chat.postEphemeral"], "the sandbox would still have taken the old URL; the bot did not try it")
		require.Empty(t, st.Refusals)
	})
}
