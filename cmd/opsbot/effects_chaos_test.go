//go:build chaos && !nosandbox

package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/fakepagerduty"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/sandbox/fakestatuspage"
)

// What the long reliability suites count in the sandbox after faults and crashes.

// fastDeploys makes the sandbox's deploys quick on the wall clock: verification samples every
// second for two, runs are taken over 3 s after their replica died, and a release soaks in
// development for a second (the sandbox's teammate deploys each new develop head there).
func fastDeploys(t testing.TB, yaml string) string {
	return editConfig(t, yaml,
		"window: 6s\n        interval: 3s", "window: 2s\n        interval: 1s",
		"duration: 24h", "duration: 1s",
		"  driver: sqlite\n", "  driver: sqlite\n  lease: 3s\n",
	)
}

// deployEffects is what deploying version to env left on GitHub.
type deployEffects struct {
	merges, tags, releases, workflowRuns int
	// statuses lists each deployment's status states, oldest first.
	statuses [][]string
}

// githubEffects counts the merges (all of them), and the tags, releases, workflow runs and
// deployments of version in env.
func githubEffects(sb *sandbox.Sandbox, version, env string) deployEffects {
	gh := sb.GitHub
	e := deployEffects{merges: len(gh.Merges())}
	for _, tg := range gh.Tags() {
		if tg.Name == version {
			e.tags++
		}
	}
	for _, rel := range gh.Releases() {
		if rel.TagName == version {
			e.releases++
		}
	}
	for _, wr := range gh.WorkflowRuns() {
		if wr.Tag == version {
			e.workflowRuns++
		}
	}
	for _, dep := range gh.Deployments() {
		if dep.Ref == version && dep.Environment == env {
			var states []string
			for _, st := range dep.Statuses {
				states = append(states, st.State)
			}
			e.statuses = append(e.statuses, states)
		}
	}
	return e
}

// repeatedPosts lists the bot's messages that appear twice, word for word, in the same channel
// and thread: a post the outbox sent again after a crash. Ephemerals are left out (each answers
// its own request).
func repeatedPosts(sb *sandbox.Sandbox, channels ...string) []string {
	var repeated []string
	for _, ch := range channels {
		seen := map[string]int{}
		for _, m := range sb.Slack.Messages(ch) {
			if m.User == fakeslack.BotUserID && m.For == "" {
				seen[m.ThreadTS+"\x00"+m.Text]++
			}
		}
		for key, n := range seen {
			if n > 1 {
				_, text, _ := strings.Cut(key, "\x00")
				repeated = append(repeated, fmt.Sprintf("%s ×%d: %.80q", ch, n, text))
			}
		}
	}
	slices.Sort(repeated)
	return repeated
}

// requireOneResolvedVendorIncident checks that the incident reached PagerDuty and the status
// page exactly once each, and was resolved in both.
func requireOneResolvedVendorIncident(t *testing.T, sb *sandbox.Sandbox) {
	t.Helper()
	pd := sb.PagerDuty.Incidents()
	require.Len(t, pd, 1, "exactly one PagerDuty incident")
	require.Equal(t, fakepagerduty.Resolved, pd[0].Status)
	sp := sb.Statuspage.Incidents()
	require.Len(t, sp, 1, "exactly one status-page incident")
	require.Equal(t, fakestatuspage.Resolved, sp[0].Status)
}
