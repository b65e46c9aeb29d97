package chat_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/store"
)

func TestDurationReadsAsPeopleSayIt(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		40 * time.Second:                "40 s",
		12*time.Minute + 20*time.Second: "12 min",
		5*time.Hour + 30*time.Minute:    "5 h 30 min",
		2 * time.Hour:                   "2 h",
		25*time.Hour + 3*time.Minute:    "25 h",
	} {
		require.Equal(t, want, chat.Duration(d), "%s", d)
	}
}

func TestEscapeMakesUserTextInert(t *testing.T) {
	t.Parallel()
	require.Equal(t, "&lt;!channel&gt; &amp; &lt;@U0BOB&gt;", chat.Escape("<!channel> & <@U0BOB>"))
	require.Equal(t, "héllo…", chat.Truncate("héllo world", 6))
	require.Equal(t, "short", chat.Truncate("short", 6))
}

func TestStepLinesShowStatesAndFoldWhatHasNotStarted(t *testing.T) {
	t.Parallel()
	titles := map[string]string{"ci": "CI", "soak": "Soak", "approval": "Approval", "merge": "Merge", "tag": "Tag"}
	steps := []store.Step{
		{Name: "ci", State: store.StepPassed, Detail: "3/3 checks passed"},
		{Name: "soak", State: store.StepWaiting, Wait: store.WaitTime, Detail: "5 h to go"},
		{Name: "approval", State: store.StepWaiting, Wait: store.WaitPerson},
		{Name: "merge", State: store.StepPending},
		{Name: "tag", State: store.StepPending},
	}
	require.Equal(t, "✅ *CI* — 3/3 checks passed\n⏳ *Soak* — 5 h to go\n⏸ *Approval*\n· Merge · Tag", chat.StepLines(steps, titles))
	require.Equal(t, "❌", chat.StepIcon(store.Step{State: store.StepWaiting, Wait: store.WaitBlocked}), "a blocked gate is red, though not final")
	require.Equal(t, "🔄", chat.StepIcon(store.Step{State: store.StepWaiting, Wait: store.WaitSystem}))
	require.Equal(t, "⏭", chat.StepIcon(store.Step{State: store.StepSkipped}))
}
