package fakeslack

import (
	"encoding/json"
	"strings"
	"time"
)

// The sandbox workspace. Configs, scripts and tests name these IDs directly, so they never change.
const (
	TeamID     = "T0SANDBOX"
	TeamDomain = "sandbox"
	AppID      = "A0OPSBOT"
	BotUserID  = "U0OPSBOT"
	BotName    = "opsbot"
	BotID      = "B0OPSBOT"

	// AppToken is the app-level token that opens Socket Mode connections.
	AppToken = "xapp-1-A0OPSBOT-sandbox"
	// BotToken is the bot token every other Web API call must carry.
	BotToken = "xoxb-sandbox-opsbot"

	Alice = "U0ALICE"
	Bob   = "U0BOB"
	Carol = "U0CAROL"
	Dave  = "U0DAVE"

	Deployers     = "S0DEPLOYERS"
	ProductOwners = "S0OWNERS"
	Oncall        = "S0ONCALL"

	Deploys      = "C0DEPLOYS"
	Incidents    = "C0INCIDENTS"
	Stakeholders = "C0STAKE"
)

// verificationToken is the deprecated per-app token Slack still puts into every payload.
const verificationToken = "sandboxverificationtoken"

type user struct {
	id, name, realName, email string
	isBot                     bool
}

type userGroup struct {
	id, handle, name string
	users            []string
}

type channel struct {
	id, name     string
	private      bool
	created      time.Time
	creator      string
	topic        string
	topicCreator string
	topicSet     time.Time
	members      []string
	messages     []*message            // channel messages and thread replies, oldest first
	byTS         map[string]*message   // messages (not ephemerals) by ts
	replies      map[string][]*message // thread_ts → replies, oldest first
	ephemerals   []*message
	pins         []pin
}

func (c *channel) isMember(userID string) bool {
	for _, m := range c.members {
		if m == userID {
			return true
		}
	}
	return false
}

type pin struct {
	ts      string
	by      string
	created time.Time
}

type message struct {
	seq         int64 // order of creation across the workspace, for "newest"
	ts          string
	threadTS    string // the parent's ts for a thread reply; empty for a top-level message
	user        string // author; BotUserID for the bot
	forUser     string // set for an ephemeral message: the only user who sees it
	text        string
	blocks      []any           // decoded Block Kit, with Slack's generated ids filled in
	attachments json.RawMessage // stored as given
	metadata    json.RawMessage // {event_type, event_payload}
	editedTS    string
	reactions   []reaction
	deleted     bool
}

type reaction struct {
	name  string
	users []string
}

func (m *message) fromBot() bool { return m.user == BotUserID }

// seedUsers returns the workspace's people and its bot, in the order users.list shows them.
func seedUsers() []*user {
	people := []*user{{id: BotUserID, name: BotName, realName: "opsbot", isBot: true}}
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		people = append(people, &user{
			id:       "U0" + strings.ToUpper(name),
			name:     name,
			realName: strings.ToUpper(name[:1]) + name[1:],
			email:    name + "@example.com",
		})
	}
	return people
}

func seedGroups() []*userGroup {
	return []*userGroup{
		{id: Deployers, handle: "deployers", name: "Deployers", users: []string{Alice}},
		{id: ProductOwners, handle: "product-owners", name: "Product owners", users: []string{Bob}},
		{id: Oncall, handle: "oncall", name: "On-call", users: []string{Carol}},
	}
}

func seedChannels(created time.Time) []*channel {
	everyone := []string{BotUserID, Alice, Bob, Carol, Dave}
	var channels []*channel
	for _, c := range []struct{ id, name string }{
		{Deploys, "deploys"}, {Incidents, "incidents"}, {Stakeholders, "stakeholders"},
	} {
		channels = append(channels, newChannel(c.id, c.name, false, Alice, created, everyone))
	}
	return channels
}

func newChannel(id, name string, private bool, creator string, created time.Time, members []string) *channel {
	return &channel{
		id: id, name: name, private: private, creator: creator, created: created,
		members: append([]string(nil), members...),
		byTS:    map[string]*message{},
		replies: map[string][]*message{},
	}
}
