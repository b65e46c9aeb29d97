package commands

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse checks, for any command and text, that Parse gives either a request whose canonical
// form parses back to it, or a *UsageError whose text is safe to show.
func FuzzParse(f *testing.F) {
	for _, tc := range acceptedCases {
		f.Add(tc.command, tc.text)
	}
	for _, tc := range append(append([]refusedCase{}, refusedCases...), nastyCases...) {
		f.Add(tc.command, tc.text)
	}
	f.Fuzz(func(t *testing.T, command, text string) {
		req, err := Parse(command, text)
		if err != nil {
			require.Nil(t, req)
			var usage *UsageError
			require.ErrorAs(t, err, &usage)
			requireSafeUsageText(t, usage.Text())
			return
		}
		require.NotNil(t, req)
		command, text, _ = strings.Cut(req.String(), " ")
		again, err := Parse(command, text)
		require.NoError(t, err, "%#v does not parse back from %q", req, req.String())
		require.Equal(t, req, again)
	})
}
