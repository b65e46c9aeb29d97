//go:build !nosandbox

package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// Helpers the reliability suites share: what opsbot left in the sandbox, counted, so that a
// test can say "exactly one of each" after faults, crashes and floods.

// editConfig applies old→new replacements to a sandbox opsbot.yaml. A replacement that finds
// nothing fails the test: the sandbox's configuration changed and the edit would silently
// test something else.
func editConfig(t testing.TB, yaml string, oldNew ...string) string {
	t.Helper()
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(yaml, oldNew[i]) {
			t.Fatalf("the sandbox configuration has no %q to replace", oldNew[i])
		}
		yaml = strings.ReplaceAll(yaml, oldNew[i], oldNew[i+1])
	}
	return yaml
}

// botPosts lists the bot's channel messages (not ephemerals) in ch whose text contains want.
func botPosts(sb *sandbox.Sandbox, ch, want string) []fakeslack.Message {
	var found []fakeslack.Message
	for _, m := range sb.Slack.Messages(ch) {
		if m.User == fakeslack.BotUserID && m.For == "" && strings.Contains(m.Text, want) {
			found = append(found, m)
		}
	}
	return found
}

// shownTo lists what only user sees in ch (ephemerals and response_url answers), oldest first.
func shownTo(sb *sandbox.Sandbox, ch, user string) []string {
	var texts []string
	for _, m := range sb.Slack.Messages(ch) {
		if m.For == user {
			texts = append(texts, m.Text)
		}
	}
	return texts
}

// sandboxSecrets are the tokens and keys in the sandbox's environment, by variable name.
func sandboxSecrets(sb *sandbox.Sandbox) map[string]string {
	secrets := map[string]string{}
	for name, value := range sb.Env() {
		if strings.HasSuffix(name, "_TOKEN") || strings.HasSuffix(name, "_KEY") {
			secrets[name] = value
		}
	}
	return secrets
}

// secretGuard is the log of a test's bot. It searches every line for the sandbox's secrets
// (tokens and keys), prints the lines from shown up, and, when the test ends, also searches
// every message the bot left in Slack: a secret found anywhere fails the test.
type secretGuard struct {
	t       *testing.T
	secrets map[string]string // name → value
	out     zerolog.LevelWriter
	shown   zerolog.Level

	mu     sync.Mutex
	lines  int
	leaked []string
}

func newSecretGuard(t *testing.T, sb *sandbox.Sandbox, shown zerolog.Level) *secretGuard {
	g := &secretGuard{t: t, secrets: sandboxSecrets(sb), out: zerolog.LevelWriterAdapter{Writer: zerolog.NewTestWriter(t)}, shown: shown}
	t.Cleanup(func() {
		checked := 0
		for _, ch := range sb.Slack.ChannelIDs() {
			for _, m := range sb.Slack.Messages(ch) {
				g.search("a Slack message in "+ch, m.Text+string(m.Blocks))
				checked++
			}
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.leaked) > 0 {
			t.Errorf("secrets leaked:\n%s", strings.Join(g.leaked, "\n"))
			return
		}
		t.Logf("no secret in %d log lines and %d Slack messages", g.lines, checked)
	})
	return g
}

func (g *secretGuard) search(where, text string) {
	for name, value := range g.secrets {
		if strings.Contains(text, value) {
			g.mu.Lock()
			g.leaked = append(g.leaked, fmt.Sprintf("%s in %s: %.200s", name, where, text))
			g.mu.Unlock()
		}
	}
}

func (g *secretGuard) Write(p []byte) (int, error) { return g.WriteLevel(zerolog.NoLevel, p) }

func (g *secretGuard) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	g.mu.Lock()
	g.lines++
	g.mu.Unlock()
	g.search("a log line", string(p))
	if level >= g.shown && level != zerolog.NoLevel {
		return g.out.WriteLevel(level, p)
	}
	return len(p), nil
}
