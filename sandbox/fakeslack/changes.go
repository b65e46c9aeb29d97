package fakeslack

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// ChangeKind says what became visible in the workspace.
type ChangeKind string

// What a Change can report.
const (
	MessagePosted  ChangeKind = "message_posted"
	MessageUpdated ChangeKind = "message_updated" // Message holds the new content
	MessageDeleted ChangeKind = "message_deleted"
	EphemeralShown ChangeKind = "ephemeral_shown" // Message.For is the only user who sees it
	ModalOpened    ChangeKind = "modal_opened"    // View; Message.For is the user
	ModalUpdated   ChangeKind = "modal_updated"   // View, and Errors after response_action "errors"
	ModalClosed    ChangeKind = "modal_closed"
	ConfirmOpened  ChangeKind = "confirm_opened" // Confirm; Message is the message whose button asked
	ConfirmClosed  ChangeKind = "confirm_closed"
	ChannelCreated ChangeKind = "channel_created"
	TopicSet       ChangeKind = "topic_set" // Message.Text is the topic
	MembersInvited ChangeKind = "members_invited"
	Pinned         ChangeKind = "pinned"
	ReactionAdded  ChangeKind = "reaction_added" // Reaction; Message.User is who reacted
	// DispatchFailed: no Socket Mode connection took the person's action; ActionTimedOut: the bot
	// never acknowledged it. Message.For is the person and Message.Text Slack's error, which
	// Slackbot shows them as an ephemeral.
	DispatchFailed ChangeKind = "dispatch_failed"
	ActionTimedOut ChangeKind = "action_timed_out"
)

// Message is a message as a person in the workspace sees it.
type Message struct {
	ChannelID   string
	ChannelName string
	TS          string
	ThreadTS    string // the thread's parent ts for a reply; empty for a top-level message
	User        string // the author (BotUserID for the bot) or, for other changes, who acted
	For         string // set when only this user sees it (ephemerals, modals, dialogs)
	Text        string
	Blocks      json.RawMessage
	Metadata    json.RawMessage
	Edited      bool
}

// Change is one thing that became visible, with what a terminal client needs to show it.
type Change struct {
	Kind ChangeKind
	At   time.Time // workspace clock
	Message
	View     json.RawMessage   // modal kinds: the whole view
	Errors   map[string]string // ModalUpdated after response_action "errors": block_id → message
	Confirm  json.RawMessage   // ConfirmOpened: the button's confirm object
	Members  []string          // MembersInvited
	Reaction string            // ReactionAdded: the emoji name
}

// Subscribe returns every Change from now on, in order, until ctx ends or the server closes;
// then the channel is closed. A slow reader never blocks the workspace: changes queue for it.
func (s *Server) Subscribe(ctx context.Context) <-chan Change {
	out := make(chan Change)
	sub := s.feed.add()
	started := s.spawn(func() {
		defer close(out)
		defer s.feed.remove(sub)
		for {
			next, ok := sub.wait(ctx, s.ctx)
			if !ok {
				return
			}
			for _, c := range next {
				select {
				case out <- c:
				case <-ctx.Done():
					return
				case <-s.ctx.Done():
					return
				}
			}
		}
	})
	if !started {
		s.feed.remove(sub)
		close(out)
	}
	return out
}

// emit publishes a change. Callers hold s.mu, so changes are queued in the order they happened.
func (s *Server) emit(c Change) {
	c.At = s.now()
	s.opts.Logger.Debug().Str("kind", string(c.Kind)).Str("channel", c.ChannelID).Str("ts", c.TS).Msg("change")
	s.feed.publish(c)
}

// feed fans changes out to subscribers, each with its own unbounded queue.
type feed struct {
	mu   sync.Mutex
	subs map[*subscriber]bool
}

type subscriber struct {
	mu     sync.Mutex
	queue  []Change
	signal chan struct{} // holds a token while queue is non-empty
}

func (f *feed) add() *subscriber {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[*subscriber]bool{}
	}
	sub := &subscriber{signal: make(chan struct{}, 1)}
	f.subs[sub] = true
	return sub
}

func (f *feed) remove(sub *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, sub)
}

func (f *feed) publish(c Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs {
		sub.mu.Lock()
		sub.queue = append(sub.queue, c)
		sub.mu.Unlock()
		select {
		case sub.signal <- struct{}{}:
		default:
		}
	}
}

// wait returns the queued changes once there are any, or false when either context ends.
func (sub *subscriber) wait(ctx, serverCtx context.Context) ([]Change, bool) {
	select {
	case <-sub.signal:
	case <-ctx.Done():
		return nil, false
	case <-serverCtx.Done():
		return nil, false
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	next := sub.queue
	sub.queue = nil
	return next, true
}
