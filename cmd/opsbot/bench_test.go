//go:build !nosandbox

package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The benchmarks are run here small and fast, for what they count (nothing lost, every run
// resumed), never for their timings.
func TestBenchmarksCountEverythingTheyDrive(t *testing.T) {
	t.Parallel()
	bin := opsbotBinary(t)
	tests := []struct {
		name string
		args []string
		want []string // regular expressions
	}{
		{"ack", []string{"ack", "--rate", "40", "--duration", "1s", "--github-latency", "0s"}, []string{
			`load: 40 envelopes/s for 1s`,
			`ack-only floor +40 +40 +0 +0 `,
			`opsbot serve +40 +40 +0 +0 `,
			`acks past 3 s: 0 \(goal 0\); lost: 0 \(goal 0\)`,
			`opsbot serve handled all 42 deliveries`,
		}},
		{"ack with an earlier build", []string{"ack", "--rate", "40", "--duration", "1s", "--github-latency", "0s", "--before", bin}, []string{
			`ack-only floor +40 +40 +0 +0 `,
			`opsbot before +40 +40 +0 +0 `,
			`opsbot serve +40 +40 +0 +0 `,
			`opsbot before p99 / floor p99 = [0-9.]+ \(goal ≤ 1.5\); acks past 3 s: 0`,
			`opsbot serve p99 / floor p99 = [0-9.]+ \(goal ≤ 1.5\); acks past 3 s: 0`,
			`opsbot before handled all 42 deliveries`,
		}},
		{"fanout", []string{"fanout", "--channels", "3", "--updates", "4"}, []string{
			`SEV1 told to 3 channels, declaration \+ 4 updates = 5 notes per channel, 15 in all`,
			`\(floor 2s, ratio`,
			`notes received: 15 of 15 \(lost 0\); duplicates: 0`,
		}},
		{"startup", []string{"startup", "--starts", "1", "--runs", "20", "--inflight", "3", "--settle", "0s", "--lease", "1s"}, []string{
			`empty store, 1 starts`,
			`store: 20 finished runs written`,
			`crash: SIGKILL with 3 releases in flight`,
			`restart on 23 stored runs with 3 in flight`,
			`start → all 3 resumed releases done`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			args := append([]string{"bench"}, tt.args...)
			args = append(args, "--opsbot", bin, "--dir", t.TempDir())
			code := run(context.Background(), args, strings.NewReader(""), &out, &errOut, os.Getenv)
			require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", errOut.String(), out.String())
			for _, w := range tt.want {
				require.Regexp(t, w, out.String())
			}
		})
	}
}

func TestBenchRefusesUnknownBenchmarks(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"bench"}, {"bench", "latency"}, {"bench", "ack", "--rate", "0"}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &out, &errOut, os.Getenv)
		require.Equal(t, 2, code, "%v", args)
		require.Contains(t, errOut.String(), "usage: opsbot", "%v", args)
	}
}
