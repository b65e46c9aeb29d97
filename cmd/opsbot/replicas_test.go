//go:build !nosandbox

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// These tests run opsbot as separate processes — two replicas of `opsbot serve` on one
// PostgreSQL database and one sandbox — so that a replica can die the way processes die: by
// SIGKILL, with no chance to clean up.

// postgresSchema returns a DSN for a fresh schema of the test database, dropped afterwards.
func postgresSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("OPSBOT_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("set OPSBOT_TEST_POSTGRES_DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the multi-replica tests")
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	schema := "opsbot_replicas_" + hex.EncodeToString(suffix[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// opsbotBinary builds cmd/opsbot once per test process.
func opsbotBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "opsbot-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "opsbot")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binary
}

type replica struct {
	cmd *exec.Cmd
	log string
}

// name is how the replica names itself in leases (see replicaName).
func (r *replica) leaseMark() string { return fmt.Sprintf("-%d-", r.cmd.Process.Pid) }

type replicaRig struct {
	sb       *sandbox.Sandbox
	st       store.Store
	replicas []*replica
}

func startReplicas(t *testing.T, n int) *replicaRig {
	t.Helper()
	dsn := postgresSchema(t)
	bin := opsbotBinary(t)
	specs, _ := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	sb, err := sandbox.Start(sandbox.Options{
		Clock: clock.Real{}, SpecsDir: specs, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		GitHub: fakegithub.Options{Reviewer: "erin", Workflow: fakegithub.Workflow{QueueTime: time.Second, RunTime: 3 * time.Second}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { sb.Close() })

	dir := t.TempDir()
	cfg := strings.Replace(sb.Config(filepath.Join(dir, "unused.db")), "  driver: sqlite\n", "  driver: postgres\n  lease: 3s\n", 1)
	cfgPath := filepath.Join(dir, "opsbot.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))

	r := &replicaRig{sb: sb}
	for i := range n {
		logPath := filepath.Join(dir, fmt.Sprintf("replica-%d.log", i))
		logFile, err := os.Create(logPath)
		require.NoError(t, err)
		cmd := exec.Command(bin, "serve", "--config", cfgPath)
		cmd.Env = append(os.Environ(), "OPSBOT_DATABASE_URL="+dsn)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		require.NoError(t, cmd.Start())
		rep := &replica{cmd: cmd, log: logPath}
		r.replicas = append(r.replicas, rep)
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			logFile.Close()
			if t.Failed() {
				out, _ := os.ReadFile(logPath)
				t.Logf("replica %d log:\n%s", i, out)
			}
		})
	}
	require.Eventually(t, func() bool { return sb.Slack.Connections() == n }, 30*time.Second, 50*time.Millisecond,
		"every replica keeps its own Socket Mode connection")

	r.st, err = store.Open(context.Background(), store.Config{Driver: store.Postgres, DSN: dsn, Logger: zerolog.Nop()})
	require.NoError(t, err)
	t.Cleanup(func() { r.st.Close() })
	return r
}

func (r *replicaRig) deployRun(t *testing.T) store.Run {
	t.Helper()
	runs, err := r.st.ListRuns(context.Background(), store.RunQuery{Kinds: []store.RunKind{store.KindDeploy}})
	require.NoError(t, err)
	require.Len(t, runs, 1, "exactly one deploy run")
	return runs[0]
}

func (r *replicaRig) slash(t *testing.T, user, command, text string) {
	t.Helper()
	d, err := r.sb.Slack.SlashCommand(context.Background(), user, fakeslack.Deploys, command, text)
	require.NoError(t, err)
	require.True(t, d.Acked, "%s %s was not acked", command, text)
}

// waitStep waits until the deploy run's step is in state.
func (r *replicaRig) waitStep(t *testing.T, step string, state store.StepState) {
	t.Helper()
	require.Eventually(t, func() bool {
		runs, err := r.st.ListRuns(context.Background(), store.RunQuery{Kinds: []store.RunKind{store.KindDeploy}})
		if err != nil || len(runs) != 1 {
			return false
		}
		s := runs[0].StepByName(step)
		return s != nil && s.State == state
	}, 60*time.Second, 50*time.Millisecond, "step %s never became %s", step, state)
}

func TestReplicaKilledMidPipelineIsTakenOverWithoutDuplicates(t *testing.T) {
	t.Parallel()
	r := startReplicas(t, 2)
	ctx := context.Background()

	r.slash(t, fakeslack.Alice, "/release", "v1.0.0")
	require.Eventually(t, func() bool {
		runs, err := r.st.ListRuns(ctx, store.RunQuery{Kinds: []store.RunKind{store.KindRelease}, States: []store.RunState{store.RunSucceeded}})
		return err == nil && len(runs) == 1
	}, 60*time.Second, 50*time.Millisecond)
	r.slash(t, fakeslack.Alice, "/deploy", "v1.0.0")
	r.waitStep(t, "checklist", store.StepWaiting)
	// Bob ticks what needs a person; the card may not show the last tick yet, so press until
	// the step passes.
	require.Eventually(t, func() bool {
		_, _ = r.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Mark done")
		s := r.deployRun(t).StepByName("checklist")
		return s.State == store.StepPassed
	}, 60*time.Second, 200*time.Millisecond)
	r.waitStep(t, "approval", store.StepWaiting)

	// From here on every GitHub call takes a while, so the replica working on the run holds
	// its lease in the middle of a step when it is killed.
	r.sb.GitHub.Latency(1500 * time.Millisecond)
	// The step waits before the card showing the Approve button is delivered, so press
	// until the button is there.
	require.Eventually(t, func() bool {
		_, err := r.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Approve")
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "bob sees the Approve button")
	require.Eventually(t, func() bool {
		_, err := r.sb.Slack.Click(ctx, fakeslack.Bob, fakeslack.Deploys, "Approve v1.0.0")
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "bob confirms the approval")

	var holder *replica
	require.Eventually(t, func() bool {
		run := r.deployRun(t)
		for _, rep := range r.replicas {
			if run.LeaseOwner != "" && strings.Contains(run.LeaseOwner, rep.leaseMark()) && run.StepByName("merge").State != store.StepPassed {
				holder = rep
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "a replica works on the run after the approval")
	require.NoError(t, holder.cmd.Process.Kill())
	killedAt := time.Now()
	var survivor *replica
	for _, rep := range r.replicas {
		if rep != holder {
			survivor = rep
		}
	}

	require.Eventually(t, func() bool {
		return strings.Contains(r.deployRun(t).LeaseOwner, survivor.leaseMark())
	}, 30*time.Second, 10*time.Millisecond, "the surviving replica takes the run over")
	failover := time.Since(killedAt)
	t.Logf("failover: %s from SIGKILL to the surviving replica claiming the run (lease 3s)", failover.Round(time.Millisecond))

	r.sb.GitHub.Latency(0)
	require.Eventually(t, func() bool { return r.deployRun(t).State == store.RunSucceeded }, 90*time.Second, 100*time.Millisecond)

	gh := r.sb.GitHub
	require.Len(t, gh.Merges(), 1, "exactly one merge")
	mergeSHA := gh.Merges()[0].SHA
	tags, releases, runs := 0, 0, 0
	for _, tg := range gh.Tags() {
		if tg.Name == "v1.0.0" {
			tags++
		}
	}
	for _, rel := range gh.Releases() {
		if rel.TagName == "v1.0.0" {
			releases++
		}
	}
	for _, wr := range gh.WorkflowRuns() {
		if wr.HeadSHA == mergeSHA {
			runs++
		}
	}
	require.Equal(t, 1, tags, "exactly one tag")
	require.Equal(t, 1, releases, "exactly one release")
	require.Equal(t, 1, runs, "exactly one workflow run")

	// One card, ending "deployed", and no message posted twice.
	require.Eventually(t, func() bool {
		cards, deployed := 0, 0
		for _, m := range r.sb.Slack.Messages(fakeslack.Deploys) {
			if m.ThreadTS == "" && strings.HasPrefix(m.Text, "Deploy v1.0.0 → production") {
				cards++
				if strings.Contains(string(m.Blocks), "is deployed to production") {
					deployed++
				}
			}
		}
		return cards == 1 && deployed == 1
	}, 60*time.Second, 100*time.Millisecond, "one deploy card, saying deployed")
	seen := map[string]bool{}
	for _, m := range r.sb.Slack.Messages(fakeslack.Deploys) {
		key := m.ThreadTS + "|" + m.Text
		require.False(t, seen[key] && m.For == "", "posted twice: %q", m.Text)
		seen[key] = true
	}
}

func TestConcurrentDeploysToOneEnvironmentStartOneRun(t *testing.T) {
	t.Parallel()
	r := startReplicas(t, 2)
	ctx := context.Background()

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { r.slash(t, fakeslack.Alice, "/deploy", "v1.0.0") })
	}
	wg.Wait()

	require.Eventually(t, func() bool {
		busy := 0
		for _, m := range r.sb.Slack.Messages(fakeslack.Deploys) {
			if m.For == fakeslack.Alice && strings.Contains(m.Text, "production is busy") {
				busy++
			}
		}
		return busy == 1
	}, 30*time.Second, 50*time.Millisecond, "the second /deploy is refused, naming the run that holds production")
	runs, err := r.st.ListRuns(ctx, store.RunQuery{Kinds: []store.RunKind{store.KindDeploy}})
	require.NoError(t, err)
	require.Len(t, runs, 1, "exactly one run starts")
}
