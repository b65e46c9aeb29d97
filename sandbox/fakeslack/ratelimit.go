package fakeslack

import (
	"math"
	"time"
)

// Slack's Web API rate-limit tiers, in calls per minute per method per app per workspace.
const (
	Tier1 = 1
	Tier2 = 20
	Tier3 = 50
	Tier4 = 100
)

// RateLimits sets the Web API rate limits. Each method has a token bucket that holds its
// per-minute allowance and refills evenly over a minute; chat.postMessage instead has a bucket per
// channel. Zero fields mean Slack's documented limits.
type RateLimits struct {
	// PerMinute overrides the allowance of the methods it names; 0 or less removes the limit.
	PerMinute map[string]int
	// PostMessageInterval is how often chat.postMessage may post to one channel (Slack: 1 s).
	PostMessageInterval time.Duration
	// PostMessageBurst is how many posts to one channel may go out back to back (Slack: 3).
	PostMessageBurst int
}

// DefaultRateLimits returns Slack's documented tiers for the methods the sandbox serves, so that a
// benchmark can compute the fastest a well-behaved bot can go. auth.test and chat.getPermalink are
// "special" at Slack, generous enough to treat as Tier 4.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		PerMinute: map[string]int{
			"apps.connections.open":  Tier1,
			"auth.test":              Tier4,
			"chat.update":            Tier3,
			"chat.postEphemeral":     Tier4,
			"chat.getPermalink":      Tier4,
			"conversations.create":   Tier2,
			"conversations.setTopic": Tier2,
			"conversations.invite":   Tier3,
			"conversations.info":     Tier3,
			"conversations.list":     Tier2,
			"conversations.history":  Tier3,
			"conversations.replies":  Tier3,
			"conversations.members":  Tier4,
			"pins.add":               Tier2,
			"pins.list":              Tier2,
			"users.info":             Tier4,
			"users.list":             Tier2,
			"users.lookupByEmail":    Tier3,
			"usergroups.list":        Tier2,
			"usergroups.users.list":  Tier2,
			"views.open":             Tier4,
			"views.update":           Tier4,
			"views.push":             Tier4,
			"reactions.add":          Tier3,
		},
		PostMessageInterval: time.Second,
		PostMessageBurst:    3,
	}
}

// resolvedLimits is RateLimits with the defaults filled in.
type resolvedLimits struct {
	perMinute    map[string]int
	postInterval time.Duration
	postBurst    int
	buckets      map[string]*bucket
}

func (l RateLimits) resolve() resolvedLimits {
	d := DefaultRateLimits()
	for method, n := range l.PerMinute {
		d.PerMinute[method] = n
	}
	if l.PostMessageInterval > 0 {
		d.PostMessageInterval = l.PostMessageInterval
	}
	if l.PostMessageBurst > 0 {
		d.PostMessageBurst = l.PostMessageBurst
	}
	return resolvedLimits{
		perMinute:    d.PerMinute,
		postInterval: d.PostMessageInterval,
		postBurst:    d.PostMessageBurst,
		buckets:      map[string]*bucket{},
	}
}

type bucket struct {
	tokens float64
	last   time.Time
}

// take spends one call of method (for chat.postMessage, to channel) at real time now. When the
// bucket is empty it returns how long until the next call would be allowed, in whole seconds as
// Slack's Retry-After header says it. Callers hold s.mu.
func (l *resolvedLimits) take(method, channel string, now time.Time) (retryAfter time.Duration, limited bool) {
	key, capacity, perSecond := method, 0.0, 0.0
	if method == "chat.postMessage" {
		key += "/" + channel
		capacity, perSecond = float64(l.postBurst), 1/l.postInterval.Seconds()
	} else {
		n := l.perMinute[method]
		if n <= 0 {
			return 0, false
		}
		capacity, perSecond = float64(n), float64(n)/60
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: capacity, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(capacity, b.tokens+now.Sub(b.last).Seconds()*perSecond)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, false
	}
	wait := math.Ceil((1 - b.tokens) / perSecond)
	return time.Duration(math.Max(wait, 1)) * time.Second, true
}
