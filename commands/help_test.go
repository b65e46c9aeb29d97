package commands

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestHelpTextGolden(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	for _, command := range []string{Release, Deploy, Rollback, Incident} {
		help := HelpText(command)
		require.LessOrEqual(t, len([]rune(help)), 3000, "help fits one Slack section block")
		requireInert(t, help)
		all.WriteString(help + "\n\n")
	}
	golden := filepath.Join("testdata", "help.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(all.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), all.String(), "run go test ./commands -run TestHelpTextGolden -update to accept a change")
}
