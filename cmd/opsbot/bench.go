//go:build !nosandbox

package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// `opsbot bench` measures what BENCHMARKS.md reports. Each benchmark runs the sandbox in this
// process and opsbot as a child process — `opsbot serve --config`, exactly as in production —
// so that its memory is its own (read from /proc/PID/status) and its start-up is timed from
// exec. Timings are printed, never asserted.

const benchUsage = `benchmarks:
  ack      ack latency at 500 envelopes/s while GitHub takes 2 s a call, against an ack-only app
  fanout   an incident told to 100 stakeholder channels under Slack's rate limits
  startup  start-up time and memory: idle, and resuming 100 in-flight runs among 10,000 stored
`

// floorCommand is the hidden benchmark that `bench ack` starts as its floor: a slack-go Socket
// Mode app that only acknowledges.
const floorCommand = "ack-floor"

func runBench(ctx context.Context, env environment, args []string) error {
	if len(args) == 0 {
		return usageError{"bench needs a benchmark\n\n" + benchUsage}
	}
	switch name, rest := args[0], args[1:]; name {
	case "ack":
		return runBenchAck(ctx, env, rest)
	case "fanout":
		return runBenchFanout(ctx, env, rest)
	case "startup":
		return runBenchStartup(ctx, env, rest)
	case floorCommand:
		return runAckFloor(ctx, env)
	default:
		return usageError{fmt.Sprintf("unknown benchmark %q\n\n%s", name, benchUsage)}
	}
}

// benchFlags are the flags every benchmark takes.
type benchFlags struct {
	sandbox sandboxFlags
	binary  string
	dir     string
}

func (f *benchFlags) register(fs *flag.FlagSet) {
	f.sandbox.register(fs)
	fs.StringVar(&f.binary, "opsbot", "", "the opsbot binary to run as the bot (default: this one)")
	fs.StringVar(&f.dir, "dir", "", "keep the stores and logs in this folder (default: a temporary one, removed at the end)")
}

// bench is one benchmark's workplace: a folder for stores, configurations and logs, and the
// binary its child processes run.
type bench struct {
	env    environment
	flags  benchFlags
	dir    string
	binary string
	log    zerolog.Logger // the sandbox's warnings, to sandbox.log
	close  func()
}

func newBench(env environment, f benchFlags) (*bench, error) {
	b := &bench{env: env, flags: f, dir: f.dir, binary: f.binary}
	var cleanups []func()
	b.close = func() {
		for _, c := range slices.Backward(cleanups) {
			c()
		}
	}
	if b.dir == "" {
		dir, err := os.MkdirTemp("", "opsbot-bench-")
		if err != nil {
			return nil, fmt.Errorf("making the benchmark's folder: %w", err)
		}
		b.dir = dir
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	} else if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, fmt.Errorf("making %s: %w", b.dir, err)
	}
	if b.binary == "" {
		self, err := os.Executable()
		if err != nil {
			b.close()
			return nil, fmt.Errorf("finding this binary to run as the bot: %w", err)
		}
		b.binary = self
	}
	logFile, err := os.Create(filepath.Join(b.dir, "sandbox.log"))
	if err != nil {
		b.close()
		return nil, fmt.Errorf("opening the sandbox's log: %w", err)
	}
	cleanups = append(cleanups, func() { logFile.Close() })
	b.log = zerolog.New(logFile).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	return b, nil
}

// startSandbox starts the fakes on the real clock with Slack's own rate limits (limits
// overrides some of them).
func (b *bench) startSandbox(limits map[string]int) (*sandbox.Sandbox, error) {
	rl := fakeslack.DefaultRateLimits()
	// As the sandbox does: a reconnect is not refused for a minute.
	rl.PerMinute["apps.connections.open"] = 20
	for method, n := range limits {
		rl.PerMinute[method] = n
	}
	return sandbox.Start(sandbox.Options{
		Clock: clock.Real{}, SpecsDir: b.flags.sandbox.specsDir(b.env), Logger: b.log,
		Slack:  fakeslack.Options{RateLimits: rl},
		GitHub: fakegithub.Options{Workflow: fakegithub.Workflow{QueueTime: 2 * time.Second, RunTime: 6 * time.Second}, Reviewer: "erin"},
	})
}

// childEnv is the environment of a child process: none of this shell's (a real token must not
// reach the sandbox), except the Go runtime's own settings, so that they can be tried.
func (b *bench) childEnv(extra ...string) []string {
	env := slices.Clone(extra)
	for _, k := range []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG"} {
		if v := b.env.getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// startOpsbot writes config to NAME.yaml and starts `opsbot serve` with it, logging to NAME.log.
func (b *bench) startOpsbot(name, config string) (*child, error) {
	return b.startOpsbotBinary(b.binary, name, config)
}

// startOpsbotBinary is startOpsbot with another opsbot binary (bench ack --before).
func (b *bench) startOpsbotBinary(binary, name, config string) (*child, error) {
	path := filepath.Join(b.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return startChild(binary, []string{"serve", "--config", path}, b.childEnv(), filepath.Join(b.dir, name+".log"))
}

// child is a process a benchmark started.
type child struct {
	cmd     *exec.Cmd
	log     string
	started time.Time
	done    chan struct{} // closed once the process has exited and been waited for
	err     error         // how it exited, once done
}

func startChild(binary string, args, env []string, logPath string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", logPath, err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logFile, logFile
	c := &child{cmd: cmd, log: logPath, done: make(chan struct{})}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s %s: %w", binary, strings.Join(args, " "), err)
	}
	// Ends with the process, which stop and kill wait for.
	go func() {
		c.err = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	return c, nil
}

// stop sends SIGTERM, as Kubernetes does, and waits for the process; past grace it kills it.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.done:
		return c.exitError()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.exitError()
	case <-time.After(grace):
		c.kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM (log: %s)", c.cmd.Path, grace, c.log)
	}
}

// kill ends the process at once, as a crash or the OOM killer would, and waits for it.
func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

func (c *child) exitError() error {
	if c.err != nil {
		return fmt.Errorf("%s exited: %w (log: %s)", c.cmd.Path, c.err, c.log)
	}
	return nil
}

// memoryUse is a process's resident set as /proc/PID/status tells it, in bytes.
type memoryUse struct {
	rss  int64 // VmRSS: resident now
	peak int64 // VmHWM: the most it was resident
	anon int64 // RssAnon: its own memory (heap, stacks)
	file int64 // RssFile: pages of the binary (and other files) mapped in; shared and reclaimable
}

func (m memoryUse) String() string {
	return fmt.Sprintf("%s (own %s + binary's pages %s)", mb(m.rss), mb(m.anon), mb(m.file))
}

// memory reads the process's resident set.
func (c *child) memory() (memoryUse, error) {
	var m memoryUse
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return m, fmt.Errorf("reading the memory of process %d: %w", c.cmd.Process.Pid, err)
	}
	defer f.Close()
	fields := map[string]*int64{"VmRSS": &m.rss, "VmHWM": &m.peak, "RssAnon": &m.anon, "RssFile": &m.file}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), ":")
		if field, ok := fields[name]; ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			*field = kb << 10
		}
	}
	return m, sc.Err()
}

// userHZ is the unit of the CPU times in /proc/PID/stat: 100 on every Linux this runs on (Go
// cannot ask sysconf without cgo).
const userHZ = 100

// cpuTime reads the CPU time the process has used so far, user and system, to 10 ms.
func (c *child) cpuTime() (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", c.cmd.Process.Pid, err)
	}
	// The command name, in parentheses, may hold spaces; the fields after it are fixed:
	// state is the 3rd field of the file, utime the 14th and stime the 15th.
	_, rest, ok := strings.Cut(string(stat), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("reading the CPU time of process %d: unexpected /proc/PID/stat %q", c.cmd.Process.Pid, stat)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading the CPU time of process %d: %w", c.cmd.Process.Pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// rssSampler keeps the largest resident set a process showed.
type rssSampler struct {
	proc *child
	max  int64
}

func (s *rssSampler) sample() {
	if m, err := s.proc.memory(); err == nil {
		s.max = max(s.max, m.rss)
	}
}

// awaitSocket waits until the sandbox Slack has a Socket Mode connection open and returns the
// time since proc was started. The sandbox tells of no connection event, so it polls every
// millisecond: the figure is accurate to about that.
func awaitSocket(ctx context.Context, slack *fakeslack.Server, proc *child, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for slack.Connections() == 0 {
		select {
		case <-proc.done:
			return 0, fmt.Errorf("the bot stopped before connecting: %v (log: %s)", proc.exitError(), proc.log)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the bot did not connect within %v (log: %s)", timeout, proc.log)
		}
	}
	return time.Since(proc.started), nil
}

// freeAddr returns a loopback address nobody listens on, for a child's /metrics.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// withListen sets http.listen in a sandbox configuration, so that /metrics can be read.
func withListen(config, addr string) string {
	return strings.Replace(config, "http:\n  listen: \"\"\n", fmt.Sprintf("http:\n  listen: %q\n", addr), 1)
}

// scrapeMetric sums the samples of a Prometheus metric whose labels contain every one of
// labels (e.g. `result="ok"`), as served in the text format at url.
func scrapeMetric(ctx context.Context, url, name string, labels ...string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", url, err)
	}
	sum := 0.0
	for line := range strings.Lines(string(body)) {
		series, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		metric, rest, _ := strings.Cut(series, "{")
		if !ok || metric != name || !containsAll(rest, labels) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, fmt.Errorf("reading %s from %s: %w", name, url, err)
		}
		sum += v
	}
	return sum, nil
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// machine describes the computer the figures come from.
func machine() string {
	cpu, memory := "unknown CPU", "unknown RAM"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if name, value, _ := strings.Cut(line, ":"); strings.TrimSpace(name) == "model name" {
				cpu = strings.TrimSpace(value)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if name, value, _ := strings.Cut(line, ":"); name == "MemTotal" {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
				memory = fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	load := "unknown"
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	return fmt.Sprintf("%d CPUs (nproc), %s, %s, %s/%s, %s; load average %s", runtime.NumCPU(), cpu, memory,
		runtime.GOOS, runtime.GOARCH, runtime.Version(), load)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mb(bytes int64) string { return fmt.Sprintf("%.1f MB", float64(bytes)/1e6) }
