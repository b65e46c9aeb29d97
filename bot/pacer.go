package bot

import (
	"sync"
	"time"
)

// Limit is one of Slack's published rate limits as a token bucket: Burst calls at once, then
// PerMinute spread evenly.
type Limit struct {
	PerMinute float64
	Burst     float64
}

// SlackLimits are the limits the outbox paces itself to, from Slack's documentation: chat.update
// is Tier 3 (50+ per minute), chat.postEphemeral Tier 4 (100+ per minute), and
// chat.postMessage is "special": about one message per second per channel, short bursts allowed.
// Pacing below the limits means the outbox rarely sees a 429; when it does, Retry-After wins.
var SlackLimits = map[string]Limit{
	"chat.postMessage":   {PerMinute: 60, Burst: 3}, // per channel
	"chat.update":        {PerMinute: 50, Burst: 50},
	"chat.postEphemeral": {PerMinute: 100, Burst: 100},
}

// pacer hands out permission to call a Slack method, per method (and per channel for
// chat.postMessage), so the outbox stays under Slack's limits instead of learning them from 429s.
type pacer struct {
	mu      sync.Mutex
	limits  map[string]Limit
	buckets map[string]*bucket
}

type bucket struct {
	tokens  float64
	updated time.Time
	blocked time.Time // a 429's Retry-After: no calls before this
}

func newPacer(limits map[string]Limit) *pacer {
	return &pacer{limits: limits, buckets: map[string]*bucket{}}
}

func pacerKey(method, channel string) string {
	if method == "chat.postMessage" {
		return method + "/" + channel
	}
	return method
}

// reserve takes a token for a call at now and returns how long the caller must wait before
// making it (0: call now), and whether the bucket was full: then the caller reports the end of
// its call to restart.
func (p *pacer) reserve(method, channel string, now time.Time) (wait time.Duration, fromFull bool) {
	lim, ok := p.limits[method]
	if !ok {
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key := pacerKey(method, channel)
	b := p.buckets[key]
	if b == nil {
		b = &bucket{tokens: lim.Burst, updated: now}
		p.buckets[key] = b
	}
	rate := lim.PerMinute / 60 // tokens per second
	if elapsed := now.Sub(b.updated).Seconds(); elapsed > 0 {
		b.tokens = min(lim.Burst, b.tokens+elapsed*rate)
		b.updated = now
	}
	fromFull = b.tokens >= lim.Burst
	b.tokens--
	if b.tokens < 0 {
		wait = time.Duration(-b.tokens / rate * float64(time.Second))
	}
	if blockedFor := b.blocked.Sub(now); blockedFor > wait {
		wait = blockedFor
	}
	return wait, fromFull
}

// restart counts the bucket's refill from done, the end of a call taken from a full bucket.
// Slack's own bucket stops being full when that call arrives, a varying network delay after
// reserve allowed it; refilling from reserve's time would credit tokens Slack has not given back
// yet, and the first call paced after a burst would now and then earn a 429.
func (p *pacer) restart(method, channel string, done time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.buckets[pacerKey(method, channel)]; b != nil && done.After(b.updated) {
		b.updated = done
	}
}

// block records a 429: nothing more for this method (and channel) until until.
func (p *pacer) block(method, channel string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := pacerKey(method, channel)
	b := p.buckets[key]
	if b == nil {
		b = &bucket{updated: until}
		p.buckets[key] = b
	}
	if until.After(b.blocked) {
		b.blocked = until
	}
	b.tokens = 0
}

// release gives back a token taken by reserve when the caller chose not to call after all.
func (p *pacer) release(method, channel string) {
	lim, ok := p.limits[method]
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.buckets[pacerKey(method, channel)]; b != nil {
		b.tokens = min(lim.Burst, b.tokens+1)
	}
}
