package deploy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/chat"
)

func TestChooseTargetPicksTheNewestStableVersionBeforeTheDeployedOne(t *testing.T) {
	t.Parallel()
	// run builds a deployment; the histories below list them newest first, as history does,
	// and number their runs from 1, the oldest.
	run := func(version, verified string) deployment {
		return deployment{version: version, by: "U0ALICE", at: goldenAt, verified: verified, failure: "Target health (2 groups) 4/6 healthy"}
	}
	passed := func(v string) deployment { return run(v, verifiedPassed) }
	failed := func(v string) deployment { return run(v, verifiedFailed) }
	unchecked := func(v string) deployment { return run(v, verifiedUnchecked) }
	unfinished := func(v string) deployment { return run(v, "") }

	cases := []struct {
		name    string
		history []deployment
		asked   string
		want    string // the target version, or
		refusal string // what the refusal says
	}{
		{name: "the version before a failed one",
			history: []deployment{failed("v1.2.0"), passed("v1.1.0"), passed("v1.0.0")}, want: "v1.1.0"},
		{name: "from a stable version too",
			history: []deployment{passed("v1.2.0"), passed("v1.1.0"), passed("v1.0.0")}, want: "v1.1.0"},
		{name: "two rollbacks in a row go further back",
			// v1.2.0, then a rollback to v1.1.0 (verified), then a rollback to v1.0.0.
			history: []deployment{passed("v1.1.0"), failed("v1.2.0"), passed("v1.1.0"), passed("v1.0.0")}, want: "v1.0.0"},
		{name: "a version that failed verification is skipped",
			history: []deployment{failed("v1.3.0"), failed("v1.2.0"), passed("v1.1.0")}, want: "v1.1.0"},
		{name: "a version that failed once is never chosen, even if it passed before",
			history: []deployment{failed("v1.3.0"), failed("v1.2.0"), passed("v1.2.0"), passed("v1.1.0")}, want: "v1.1.0"},
		{name: "a rollback that failed verification marks its version failed",
			history: []deployment{failed("v1.1.0"), failed("v1.2.0"), passed("v1.1.0"), passed("v1.0.0")}, want: "v1.0.0"},
		{name: "no checks configured counts as stable",
			history: []deployment{unchecked("v1.1.0"), unchecked("v1.0.0")}, want: "v1.0.0"},
		{name: "a verification that never ended is not stable",
			history: []deployment{failed("v1.2.0"), unfinished("v1.1.0"), passed("v1.0.0")}, want: "v1.0.0"},
		{name: "newer versions are not rolled back to",
			// Rolled back to v1.0.0 by name; v1.1.0 and v1.2.0 are newer than what runs now.
			history: []deployment{passed("v1.0.0"), passed("v1.2.0"), passed("v1.1.0"), passed("v1.0.0")},
			refusal: "No version older than v1.0.0 passed verification in production, so there is nothing to roll back to. Stable versions in production: v1.2.0, v1.1.0."},
		{name: "nothing deployed yet",
			refusal: "Nothing has been deployed to production by opsbot yet, so there is nothing to roll back."},
		{name: "nothing older is stable",
			history: []deployment{failed("v1.1.0"), failed("v1.0.0")},
			refusal: "No version older than v1.1.0 passed verification in production, so there is nothing to roll back to."},
		{name: "a stable version asked for",
			history: []deployment{failed("v1.3.0"), passed("v1.2.0"), passed("v1.1.0")}, asked: "v1.1.0", want: "v1.1.0"},
		{name: "a version asked for that failed verification",
			history: []deployment{failed("v1.3.0"), failed("v1.2.0"), passed("v1.1.0")}, asked: "v1.2.0",
			refusal: "v1.2.0 failed verification in production (run #2: Target health (2 groups) 4/6 healthy); I never roll back to a version that failed verification. Stable versions in production: v1.1.0."},
		{name: "a version asked for that was never verified",
			history: []deployment{failed("v1.3.0"), passed("v1.1.0")}, asked: "v0.9.0",
			refusal: "v0.9.0 never passed verification in production, so it is not a known good version there. Stable versions in production: v1.1.0."},
		{name: "the version that runs now",
			history: []deployment{passed("v1.1.0"), passed("v1.0.0")}, asked: "v1.1.0",
			refusal: "production is on v1.1.0 already."},
	}
	for _, tc := range cases {
		for i := range tc.history {
			tc.history[i].runID = int64(len(tc.history) - i)
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan, err := chooseTarget("production", tc.history, tc.asked)
			if tc.refusal != "" {
				refusal, ok := chat.AsRefusal(err)
				require.True(t, ok, "want a refusal, got %v", err)
				require.Equal(t, tc.refusal, refusal.Reason)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, plan.to.version)
			require.Equal(t, tc.history[0], plan.from, "the rollback starts from the newest deployment")
		})
	}
}
