//go:build !nosandbox

package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// runBenchAck drives the sandbox Slack with slash commands and clicks at a steady rate and
// reports the ack latency Slack sees (envelope sent → ack received) for opsbot doing its real
// work while every GitHub call takes seconds, and for an app that only acks: the floor on this
// machine. Each app has a sandbox of its own and runs as a child process, so both are measured
// alike and their memory and CPU time can be read. The load alternates between them in windows
// (after each of opsbot's, until it has handled what it acked), each window starting with
// another app, so that whatever else the machine is doing weighs on both alike; --windows 1
// gives each one unbroken load, the floor first. --before adds an earlier opsbot build as a
// third app, for a before/after comparison under the same conditions.
func runBenchAck(ctx context.Context, env environment, args []string) error {
	fs := flag.NewFlagSet("bench ack", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var bf benchFlags
	bf.register(fs)
	rate := fs.Int("rate", 500, "envelopes per second")
	duration := fs.Duration("duration", 20*time.Second, "how long each app is under load, in all")
	windows := fs.Int("windows", 10, "windows the load is split into, alternating between the apps")
	githubLatency := fs.Duration("github-latency", 2*time.Second, "how long the sandbox GitHub takes to answer each call")
	drain := fs.Duration("drain", 5*time.Minute, "how long to wait, after a window, for opsbot to handle every delivery")
	before := fs.String("before", "", "another opsbot binary (an earlier build) to measure in the same run, in windows of its own")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *rate <= 0 || *duration <= 0 || *windows <= 0 {
		return usageError{"--rate, --duration and --windows must be positive"}
	}
	b, err := newBench(env, bf)
	if err != nil {
		return err
	}
	defer b.close()

	total := int(duration.Seconds() * float64(*rate))
	fmt.Fprintf(env.stdout, "machine: %s\n", machine())
	fmt.Fprintf(env.stdout, "load: %d envelopes/s for %v per app in %d alternating windows (%s), every GitHub call taking %v\n\n",
		*rate, *duration, *windows, describeMix(), *githubLatency)

	floor, err := b.startAckRig(ctx, floorTarget{})
	if err != nil {
		return fmt.Errorf("ack-only floor: %w", err)
	}
	defer floor.close()
	rigs := []*ackRig{floor}
	if *before != "" {
		earlier, err := b.startAckRig(ctx, &opsbotTarget{label: "opsbot before", files: "opsbot-before", binary: *before, githubLatency: *githubLatency, drain: *drain})
		if err != nil {
			return fmt.Errorf("opsbot before: %w", err)
		}
		defer earlier.close()
		rigs = append(rigs, earlier)
	}
	bot, err := b.startAckRig(ctx, &opsbotTarget{label: "opsbot serve", files: "opsbot", binary: b.binary, githubLatency: *githubLatency, drain: *drain})
	if err != nil {
		return fmt.Errorf("opsbot: %w", err)
	}
	defer bot.close()
	rigs = append(rigs, bot)
	for w := range *windows {
		load := ackLoad{rate: *rate, first: total * w / *windows, count: total*(w+1) / *windows - total*w / *windows}
		// Each window starts with another app, so that none always follows the same one
		// (whose leftover work, a GC or a WAL checkpoint, would weigh on it).
		for i := range rigs {
			r := rigs[(w+i)%len(rigs)]
			if err := r.drive(ctx, load); err != nil {
				return fmt.Errorf("%s: %w", r.target.name(), err)
			}
		}
	}
	var results []ackResult
	for _, r := range rigs {
		results = append(results, r.result())
	}
	fmt.Fprintf(env.stdout, "%-16s %9s %7s %5s %7s %9s %9s %9s %4s %9s %9s\n",
		"", "envelopes", "acked", "lost", "retries", "p50", "p99", "max", ">3s", "RSS peak", "CPU each")
	for _, r := range results {
		fmt.Fprintln(env.stdout, r.row())
	}
	fmt.Fprintln(env.stdout)
	for _, r := range results[1:] {
		fmt.Fprintf(env.stdout, "%s p99 / floor p99 = %.2f (goal ≤ 1.5); acks past 3 s: %d (goal 0); lost: %d (goal 0)\n",
			r.name, float64(r.p99)/float64(results[0].p99), r.over3s, r.lost)
	}
	for _, r := range results {
		if r.note != "" {
			fmt.Fprintln(env.stdout, r.note)
		}
	}
	return nil
}

// ackLoad is one window of the open-loop load: count actions, one every 1/rate s whatever the
// answers, from the first-th of the mix on.
type ackLoad struct {
	rate, first, count int
}

// ackAction is one thing a person does that reaches the bot as an envelope.
type ackAction struct {
	what string
	do   func(ctx context.Context, slack *fakeslack.Server) (fakeslack.Delivery, error)
}

func command(user, channel, cmd, text string) ackAction {
	return ackAction{what: cmd + " " + text, do: func(ctx context.Context, s *fakeslack.Server) (fakeslack.Delivery, error) {
		return s.SlashCommand(ctx, user, channel, cmd, text)
	}}
}

func click(user, channel, label string) ackAction {
	return ackAction{what: "click " + label, do: func(ctx context.Context, s *fakeslack.Server) (fakeslack.Delivery, error) {
		return s.Click(ctx, user, channel, label)
	}}
}

// ackMix is what the load repeats: reads that touch the store and answer through the outbox,
// a /release that finds its run, help answered in the ack itself, and a button pressed by
// someone who may not press it (refused after re-reading the incident).
var ackMix = []ackAction{
	command(fakeslack.Alice, fakeslack.Deploys, "/deploy", "status"),
	click(fakeslack.Dave, fakeslack.Incidents, "Resolve"),
	command(fakeslack.Bob, fakeslack.Deploys, "/deploy", "history"),
	command(fakeslack.Carol, fakeslack.Incidents, "/incident", "list"),
	click(fakeslack.Dave, fakeslack.Incidents, "Resolve"),
	command(fakeslack.Alice, fakeslack.Deploys, "/release", "v1.0.0"),
	command(fakeslack.Dave, fakeslack.Deploys, "/deploy", "status"),
	click(fakeslack.Dave, fakeslack.Incidents, "Resolve"),
	command(fakeslack.Bob, fakeslack.Deploys, "/deploy", "help"),
	command(fakeslack.Carol, fakeslack.Deploys, "/release", "status"),
}

func describeMix() string {
	counts := map[string]int{}
	var order []string
	for _, a := range ackMix {
		if counts[a.what] == 0 {
			order = append(order, a.what)
		}
		counts[a.what]++
	}
	var b bytes.Buffer
	for i, what := range order {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d×%s", counts[what], what)
	}
	return fmt.Sprintf("per %d: %s", len(ackMix), b.String())
}

// ackTarget is an app under load.
type ackTarget interface {
	name() string
	// start starts the app against sb.
	start(b *bench, sb *sandbox.Sandbox) (*child, error)
	// prepare, once the app is connected, puts up what the load clicks on.
	prepare(ctx context.Context, sb *sandbox.Sandbox) error
	// settle, after a window, waits for the app's own work on the acked envelopes.
	settle(ctx context.Context, acked int) error
	// report says how the app's own work went, at the end.
	report() string
}

// ackRig is an app under test with its sandbox, and what the load saw of it so far.
type ackRig struct {
	target   ackTarget
	sb       *sandbox.Sandbox
	proc     *child
	before   fakeslack.Stats // at the start of the first window
	rss      rssSampler
	cpu      time.Duration // CPU time the app used during the windows and their settling
	sent     int
	failures []error
}

func (b *bench) startAckRig(ctx context.Context, target ackTarget) (_ *ackRig, err error) {
	sb, err := b.startSandbox(nil)
	if err != nil {
		return nil, err
	}
	r := &ackRig{target: target, sb: sb}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.proc, err = target.start(b, sb); err != nil {
		return nil, err
	}
	r.rss.proc = r.proc
	if _, err := awaitSocket(ctx, sb.Slack, r.proc, 30*time.Second); err != nil {
		return nil, err
	}
	if err := target.prepare(ctx, sb); err != nil {
		return nil, err
	}
	r.before = sb.Slack.Stats()
	return r, nil
}

func (r *ackRig) close() {
	if r.proc != nil {
		_ = r.proc.stop(30 * time.Second)
	}
	_ = r.sb.Close()
}

// drive sends one window of load and waits until every action was acked or Slack gave up, then
// until the app settled.
func (r *ackRig) drive(ctx context.Context, load ackLoad) error {
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	cpuBefore, cpuErr := r.proc.cpuTime()
	interval := time.Second / time.Duration(load.rate)
	start := time.Now()
	for i := range load.count {
		select {
		case <-time.After(time.Until(start.Add(time.Duration(i) * interval))):
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		action := ackMix[(load.first+i)%len(ackMix)]
		wg.Go(func() {
			d, err := action.do(ctx, r.sb.Slack)
			if err == nil && !d.Acked {
				err = fmt.Errorf("%s: not acknowledged (retries %d, dispatch failed %v)", action.what, d.Retries, d.DispatchFailed)
			}
			if err != nil {
				mu.Lock()
				r.failures = append(r.failures, err)
				mu.Unlock()
			}
		})
		if i%(load.rate/10+1) == 0 {
			r.rss.sample()
		}
	}
	wg.Wait()
	r.rss.sample()
	r.sent += load.count
	err := r.target.settle(ctx, r.sb.Slack.Stats().Acked)
	r.rss.sample()
	if cpuAfter, err := r.proc.cpuTime(); err == nil && cpuErr == nil {
		r.cpu += cpuAfter - cpuBefore
	}
	return err
}

// ackResult is an app's figures over every window.
type ackResult struct {
	name          string
	sent, acked   int
	lost, retries int
	p50, p99, max time.Duration
	over3s        int
	peak          int64 // the largest resident set seen: sampled under load, or the kernel's VmHWM
	cpuPerAction  time.Duration
	note          string
}

func (r ackResult) row() string {
	return fmt.Sprintf("%-16s %9d %7d %5d %7d %9s %9s %9s %4d %9s %9s", r.name, r.sent, r.acked, r.lost, r.retries,
		ms(r.p50), ms(r.p99), ms(r.max), r.over3s, mb(r.peak), ms(r.cpuPerAction))
}

func (r *ackRig) result() ackResult {
	after := r.sb.Slack.Stats()
	latencies := after.AckLatencies[len(r.before.AckLatencies):]
	window := fakeslack.Stats{AckLatencies: latencies}
	res := ackResult{
		name: r.target.name(), sent: r.sent, acked: after.Acked - r.before.Acked, lost: len(r.failures),
		retries: after.Retries - r.before.Retries, p50: window.AckLatency(0.5), p99: window.AckLatency(0.99),
		peak: r.rss.max, note: r.target.report(),
	}
	if r.sent > 0 {
		res.cpuPerAction = r.cpu / time.Duration(r.sent)
	}
	if len(latencies) > 0 {
		res.max = slices.Max(latencies)
	}
	for _, l := range latencies {
		if l > fakeslack.DefaultAckDeadline {
			res.over3s++
		}
	}
	if m, err := r.proc.memory(); err == nil {
		res.peak = max(res.peak, m.peak)
	}
	if len(r.failures) > 0 {
		res.note += fmt.Sprintf("\n%s: first of %d failures: %v", res.name, len(r.failures), r.failures[0])
	}
	return res
}

// floorTarget is a slack-go Socket Mode app that only acks: `opsbot bench ack-floor`, a second
// process like opsbot, so that both pay the same for their own runtime and socket.
type floorTarget struct{}

func (floorTarget) name() string { return "ack-only floor" }

func (floorTarget) start(b *bench, sb *sandbox.Sandbox) (*child, error) {
	env := b.childEnv(
		"SLACK_APP_TOKEN="+fakeslack.AppToken, "SLACK_BOT_TOKEN="+fakeslack.BotToken,
		"OPSBOT_SLACK_API_URL="+sb.Slack.APIURL())
	return startChild(b.binary, []string{"bench", floorCommand}, env, filepath.Join(b.dir, "floor.log"))
}

// prepare posts, as the bot, the button the load presses.
func (floorTarget) prepare(ctx context.Context, sb *sandbox.Sandbox) error {
	api := slack.New(fakeslack.BotToken, slack.OptionAPIURL(sb.Slack.APIURL()))
	button := slack.NewButtonBlockElement("resolve", "1", slack.NewTextBlockObject(slack.PlainTextType, "Resolve", false, false))
	_, _, err := api.PostMessageContext(ctx, fakeslack.Incidents,
		slack.MsgOptionText("An incident", false), slack.MsgOptionBlocks(slack.NewActionBlock("incident", button)))
	if err != nil {
		return fmt.Errorf("posting the button the load presses: %w", err)
	}
	return nil
}

func (floorTarget) settle(context.Context, int) error { return nil }

func (floorTarget) report() string { return "" }

// runAckFloor is the floor app: connect over Socket Mode and ack every envelope, nothing else.
// An ack that cannot be written is Slack's to count (it re-delivers), as for any app.
func runAckFloor(ctx context.Context, env environment) error {
	api := slack.New(env.getenv("SLACK_BOT_TOKEN"),
		slack.OptionAppLevelToken(env.getenv("SLACK_APP_TOKEN")), slack.OptionAPIURL(env.getenv("OPSBOT_SLACK_API_URL")))
	sm := socketmode.New(api)
	ended := make(chan error, 1)
	go func() { ended <- sm.RunContext(ctx) }() // ends with ctx, and is waited for below
	for {
		select {
		case err := <-ended:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case evt := <-sm.Events:
			switch evt.Type {
			case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
				_ = sm.Ack(*evt.Request)
			}
		}
	}
}

// opsbotTarget is `opsbot serve` on the sandbox, with an incident open (whose Resolve button
// the load presses) and a release under way while GitHub is slow.
type opsbotTarget struct {
	label         string // how the results name it
	files         string // its configuration, store and log are FILES.yaml, FILES.db, FILES.log
	binary        string // the opsbot binary to run
	githubLatency time.Duration
	drain         time.Duration
	metrics       string // the child's /metrics URL, once started

	handled      int           // deliveries handled so far
	slowestDrain time.Duration // the longest it took to handle a window's deliveries
	outbox       float64       // replies waiting in the outbox after the last window
}

func (t *opsbotTarget) name() string { return t.label }

func (t *opsbotTarget) start(b *bench, sb *sandbox.Sandbox) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	t.metrics = "http://" + addr + "/metrics"
	sb.GitHub.Latency(t.githubLatency)
	return b.startOpsbotBinary(t.binary, t.files, withListen(sb.Config(filepath.Join(b.dir, t.files+".db")), addr))
}

// prepare declares an incident, waits for its announcement's buttons, and starts a release.
func (t *opsbotTarget) prepare(ctx context.Context, sb *sandbox.Sandbox) error {
	if _, err := sb.Slack.SlashCommand(ctx, fakeslack.Carol, fakeslack.Incidents, "/incident", "declare sev4 Load test"); err != nil {
		return fmt.Errorf("declaring the incident: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for !hasButton(sb.Slack.Messages(fakeslack.Incidents), "Resolve") {
		if time.Now().After(deadline) {
			return fmt.Errorf("no Resolve button in #incidents a minute after declaring an incident")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := sb.Slack.SlashCommand(ctx, fakeslack.Alice, fakeslack.Deploys, "/release", "v1.0.0"); err != nil {
		return fmt.Errorf("starting a release: %w", err)
	}
	return nil
}

func hasButton(msgs []fakeslack.Message, label string) bool {
	for _, m := range msgs {
		if m.User == fakeslack.BotUserID && bytes.Contains(m.Blocks, []byte(fmt.Sprintf("%q", label))) {
			return true
		}
	}
	return false
}

// settle waits until opsbot has handled every delivery Slack saw acknowledged.
func (t *opsbotTarget) settle(ctx context.Context, acked int) error {
	loadEnd := time.Now()
	err := poll(ctx, t.drain, func() (bool, error) {
		handled, err := scrapeMetric(ctx, t.metrics, "opsbot_deliveries_handled_total")
		t.handled = int(handled)
		return t.handled >= acked, err
	})
	if err != nil {
		return fmt.Errorf("waiting for opsbot to handle %d deliveries (handled %d): %w", acked, t.handled, err)
	}
	t.slowestDrain = max(t.slowestDrain, time.Since(loadEnd))
	t.outbox, _ = scrapeMetric(ctx, t.metrics, "opsbot_outbox_depth")
	return nil
}

func (t *opsbotTarget) report() string {
	return fmt.Sprintf("%s handled all %d deliveries, each window's within %.1f s of its end; at the end %.0f messages "+
		"were waiting in the outbox (a reply that cannot go to its response_url waits for chat.postEphemeral, 100 a minute).",
		t.label, t.handled, t.slowestDrain.Seconds(), t.outbox)
}
