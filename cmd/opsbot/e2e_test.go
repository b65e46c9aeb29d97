//go:build !nosandbox

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/console"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// startTestRig starts the sandbox and the real serve path, as `opsbot console` does.
func startTestRig(t *testing.T) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env := environment{getenv: os.Getenv}
	r, err := startRig(ctx, env, sandboxFlags{}, t.TempDir(), zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, r.stop())
		cancel()
	})
	return r
}

// ackText is the text of a slash command's immediate reply.
func ackText(t *testing.T, d fakeslack.Delivery) string {
	t.Helper()
	var reply struct {
		Text         string `json:"text"`
		ResponseType string `json:"response_type"`
	}
	require.NoError(t, json.Unmarshal(d.Payload, &reply), "ack payload %s", d.Payload)
	require.Equal(t, "ephemeral", reply.ResponseType, "an answer to one person is shown to them only")
	return reply.Text
}

func TestServeAnswersHelpAndMistakesInTheAck(t *testing.T) {
	t.Parallel()
	r := startTestRig(t)
	ctx := context.Background()

	tests := []struct {
		text    string
		want    []string
		outcome string
	}{
		{"help", []string{"/deploy — deploy a release to an environment", "/deploy vMAJOR.MINOR.PATCH [to ENVIRONMENT]", "/deploy cancel"}, "ok"},
		{"v1.0", []string{`I couldn't read "v1.0" as a version.`, "Usage: /deploy vMAJOR.MINOR.PATCH [to ENVIRONMENT]", "e.g. /deploy v1.4.0"}, "usage"},
		{"1.0.0; rm -rf /", []string{"Usage: /deploy"}, "usage"},
		{"v1.0.0 to Prod!", []string{"Usage: /deploy"}, "usage"},
	}
	for _, tt := range tests {
		d, err := r.sb.Slack.SlashCommand(ctx, fakeslack.Alice, fakeslack.Deploys, "/deploy", tt.text)
		require.NoError(t, err)
		require.True(t, d.Acked, "/deploy %s was not acked", tt.text)
		require.Zero(t, d.Retries, "/deploy %s: Slack had to retry: the ack missed the 3 s deadline", tt.text)
		require.Less(t, d.Latency, fakeslack.DefaultAckDeadline, "/deploy %s acked after the deadline", tt.text)
		text := ackText(t, d)
		for _, w := range tt.want {
			require.Contains(t, text, w, "/deploy %s", tt.text)
		}
	}
	stats := r.sb.Slack.Stats()
	require.Zero(t, stats.LateAcks)

	// Every command is audited, usage errors included.
	require.Eventually(t, func() bool {
		entries, err := r.app.Store.ListAudit(ctx, store.AuditQuery{Actor: fakeslack.Alice})
		return err == nil && len(entries) == len(tests)
	}, 5*time.Second, 20*time.Millisecond)
	entries, err := r.app.Store.ListAudit(ctx, store.AuditQuery{Actor: fakeslack.Alice})
	require.NoError(t, err)
	outcomes := map[string]int{}
	for _, e := range entries {
		outcomes[e.Outcome]++
	}
	require.Equal(t, map[string]int{"ok": 1, "usage": 3}, outcomes)
}

func TestUnauthorisedDeployIsRefusedAndAudited(t *testing.T) {
	t.Parallel()
	r := startTestRig(t)
	ctx := context.Background()

	d, err := r.sb.Slack.SlashCommand(ctx, fakeslack.Dave, fakeslack.Deploys, "/deploy", "v1.0.0")
	require.NoError(t, err)
	require.True(t, d.Acked)
	require.Eventually(t, func() bool {
		for _, m := range r.sb.Slack.Messages(fakeslack.Deploys) {
			if m.For == fakeslack.Dave && strings.Contains(m.Text, "Only <!subteam^S0DEPLOYERS> can deploy.") {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "dave gets an ephemeral refusal naming who may deploy")
	entries, err := r.app.Store.ListAudit(ctx, store.AuditQuery{Actor: fakeslack.Dave})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "refused", entries[0].Outcome)
	require.Equal(t, "/deploy v1.0.0", entries[0].Action)
	runs, err := r.app.Store.ListRuns(ctx, store.RunQuery{})
	require.NoError(t, err)
	require.Empty(t, runs, "a refused command starts nothing")
}

// transcript runs a console script against a rig and returns what it printed.
func transcript(t *testing.T, r *rig, script string) string {
	t.Helper()
	var out bytes.Buffer
	err := console.Run(context.Background(), console.Options{
		In: strings.NewReader(script), Out: &out, Sandbox: r.sb, Clock: r.clk, Idle: r.app.Idle,
	})
	require.NoError(t, err)
	return out.String()
}

// requireInOrder checks that each want appears in text after the previous one.
func requireInOrder(t *testing.T, text string, wants ...string) {
	t.Helper()
	rest := text
	for _, w := range wants {
		i := strings.Index(rest, w)
		require.GreaterOrEqual(t, i, 0, "missing (in order) %q in transcript:\n%s", w, text)
		rest = rest[i+len(w):]
	}
}

func TestConsoleHelpAndUnknownCommand(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"console"}, strings.NewReader("/deploy help\n/bogus\n:quit\n"), &out, &errOut, os.Getenv)
	require.Equal(t, 0, code, errOut.String())
	requireInOrder(t, out.String(),
		"> /deploy help",
		"(only you) [#deploys] opsbot: /deploy — deploy a release to an environment, through its gates",
		"• /deploy cancel [ENVIRONMENT]",
		"> /bogus",
		`(only you) [#deploys] opsbot: I don't know the command "/bogus".`,
		"> :quit",
	)
}

func TestConsoleReleaseDeployApprove(t *testing.T) {
	t.Parallel()
	r := startTestRig(t)
	out := transcript(t, r, `
:as alice
/release v1.0.0
/deploy v1.0.0
:as bob
:click Mark done
:click Mark done
:click Mark done
:click Mark done
:click Approve
:click Approve v1.0.0
:wait 60s
`)
	requireInOrder(t, out,
		"> /release v1.0.0",
		"📦 *Release v1.0.0*",
		"✅ Ready to deploy: `/deploy v1.0.0`",
		"> /deploy v1.0.0",
		"🚀 *Deploy v1.0.0 → production*",
		"⏸ *Checklist* — 4/8 — 4 items need a person (see thread)",
		"> :as bob",
		"☑ Documentation has been updated — @bob",
		"✅ *Checklist* — 8/8 — ticked by @bob and opsbot",
		"@product-owners v1.0.0 (",
		"[Approve] [Reject]",
		"> :click Approve",
		"{confirm: Approve this deploy?} Deploy *v1.0.0* (",
		"> :click Approve v1.0.0",
		"(only you) [#deploys] opsbot: You approved v1.0.0",
		"✅ v1.0.0 is deployed to production.",
		"> :wait 60s",
		"idle",
	)

	gh := r.sb.GitHub
	require.Len(t, gh.Merges(), 1, "one merge")
	var tags []string
	for _, tg := range gh.Tags() {
		if tg.Name == "v1.0.0" {
			tags = append(tags, tg.Name)
		}
	}
	require.Len(t, tags, 1, "one v1.0.0 tag")
	var releases, runs, deployments int
	for _, rel := range gh.Releases() {
		if rel.TagName == "v1.0.0" {
			releases++
		}
	}
	for _, wr := range gh.WorkflowRuns() {
		if wr.HeadSHA == gh.Merges()[0].SHA {
			runs++
			require.Equal(t, "success", wr.Conclusion)
		}
	}
	for _, dep := range gh.Deployments() {
		if dep.Ref == "v1.0.0" && dep.Environment == "production" {
			deployments++
			require.Equal(t, "success", dep.Statuses[len(dep.Statuses)-1].State)
		}
	}
	require.Equal(t, 1, releases, "one release")
	require.Equal(t, 1, runs, "one workflow run")
	require.Equal(t, 1, deployments, "one production deployment, successful")
}

func TestManifestCommandPrintsTheManifestFile(t *testing.T) {
	t.Parallel()
	file, err := os.ReadFile("../../manifest.yml")
	require.NoError(t, err)
	var out bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"manifest"}, nil, &out, &out, os.Getenv))
	require.Equal(t, string(file), out.String())
	for _, want := range []string{"socket_mode_enabled: true", "command: /deploy", "command: /release", "command: /rollback", "command: /incident", "connections:write", "chat:write"} {
		require.Contains(t, out.String(), want)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := dir + "/good.yaml"
	require.NoError(t, os.WriteFile(good, []byte("slack:\n  deploys_channel: C0DEPLOYS\nroles:\n  deployer: {users: [U0ALICE]}\ngithub:\n  repository: acme/analytics\n"), 0o600))
	bad := dir + "/bad.yaml"
	require.NoError(t, os.WriteFile(bad, []byte("slack:\n  deploys_channel: deploys\nroles:\n  deployer: {users: [alice]}\n"), 0o600))

	env := map[string]string{"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "xoxb-1", "OPSBOT_SLACK_API_URL": "http://127.0.0.1:1/api/"}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"config", "check", "--config", good}, nil, &out, &errOut, func(k string) string { return env[k] })
	require.Equal(t, 0, code, errOut.String())
	requireInOrder(t, out.String(), good+": ok", "slack", "sandboxed", "github", "absent", "GITHUB_TOKEN is not set")

	out.Reset()
	errOut.Reset()
	code = run(context.Background(), []string{"config", "check", "--config", bad}, nil, &out, &errOut, func(k string) string { return env[k] })
	require.Equal(t, 1, code)
	requireInOrder(t, errOut.String(),
		bad+": github.repository: required", // a missing setting has no line, so it comes first
		bad+`:2: slack.deploys_channel: "deploys" is not a Slack channel ID`,
		bad+`:4: roles.deployer.users[0]: "alice" is not a Slack user ID`)
}
