//go:build chaos

package main

// The chaos build (`go build -tags chaos`) gives serve one more flag, for the crash tests:
//
//	--crash-at KIND:STEP:PHASE   e.g. deploy:merge:after
//
// The process kills itself with SIGKILL the first time a run of KIND reaches PHASE of STEP:
// "before" is once the step is recorded as started, "after" once it returned and before its
// outcome is recorded. STEP "end" is the end of the run: "before" once it is recorded and
// before it is told, "after" once told (runner.EndOfRun). The binary that ships has no such
// flag: it cannot crash itself.

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

func init() {
	extraServeFlags = func(fs *flag.FlagSet) func(*serveOptions) error {
		at := fs.String("crash-at", "", "chaos build only: SIGKILL this process at KIND:STEP:PHASE (PHASE before or after)")
		return func(opts *serveOptions) error {
			if *at == "" {
				return nil
			}
			kind, step, phase, err := parseCrashPoint(*at)
			if err != nil {
				return err
			}
			log := opts.Log
			opts.StepHook = func(run store.Run, name string, p runner.StepPhase) {
				if run.Kind != kind || name != step || p != phase {
					return
				}
				log.Warn().Int64("run", run.ID).Str("crash_at", *at).Msg("crashing on purpose (--crash-at)")
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // nothing of this step may happen after the kill
			}
			return nil
		}
	}
}

// parseCrashPoint reads KIND:STEP:PHASE.
func parseCrashPoint(v string) (store.RunKind, string, runner.StepPhase, error) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("--crash-at %q: want KIND:STEP:PHASE, e.g. deploy:merge:after", v)
	}
	phase := runner.StepPhase(parts[2])
	if phase != runner.PhaseBefore && phase != runner.PhaseAfter {
		return "", "", "", fmt.Errorf("--crash-at %q: the phase is %q or %q", v, runner.PhaseBefore, runner.PhaseAfter)
	}
	return store.RunKind(parts[0]), parts[1], phase, nil
}
