package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/integrations/aws"
	"github.com/opsbot-dev/opsbot/integrations/pingdom"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// AWS is what verification reads in AWS (integrations/aws.Client).
type AWS interface {
	TargetHealth(ctx context.Context, targetGroupARNs []string) (aws.TargetHealth, error)
	CountLogEvents(ctx context.Context, logGroup, pattern string, from, to time.Time) (int, error)
	Alarms(ctx context.Context, names []string) (states map[string]string, missing []string, err error)
	Metric(ctx context.Context, q aws.MetricQuery, from, to time.Time) (value float64, found bool, err error)
	CacheHitRatio(ctx context.Context, dimensions map[string]string, from, to time.Time) (ratio float64, found bool, err error)
}

// Sentry counts a project's errors (integrations/sentry.Client).
type Sentry interface {
	ErrorCount(ctx context.Context, org string, projectID int64, from, to time.Time) (int, error)
}

// NewRelic reads an application's response time (integrations/newrelic.Client).
type NewRelic interface {
	ResponseTimeP95(ctx context.Context, accountID int, appName string, from, to time.Time) (p95 time.Duration, found bool, err error)
}

// Pingdom reads an uptime check (integrations/pingdom.Client).
type Pingdom interface {
	CheckStatus(ctx context.Context, checkID int) (pingdom.Check, error)
}

// How a verification ended, recorded on the run (runData.Verified): a version is stable in an
// environment once a run deployed it there and its verification passed or had nothing to check.
const (
	verifiedPassed    = "passed"
	verifiedFailed    = "failed"
	verifiedUnchecked = "unchecked"
)

// What one sample found of one check.
const (
	verdictPassed  = "passed"
	verdictFailed  = "failed"
	verdictSkipped = "skipped"
)

// Sampling bounds: a sample that takes longer is retried (an integration hangs); a health URL
// that takes longer is unhealthy, as a load balancer would judge it.
const (
	sampleTimeout = 30 * time.Second
	healthTimeout = 10 * time.Second
)

// verification is the verification step's own record (its step data): the window and the
// latest reading of every check, so that a restart continues the window where it was.
type verification struct {
	Since   time.Time  `json:"since"` // when the deploy started: the checks look from here
	Started time.Time  `json:"started"`
	Ends    time.Time  `json:"ends"`
	Samples int        `json:"samples"`
	Rows    []checkRow `json:"rows"`
	// Outcome is verifiedPassed or verifiedFailed once concluded, with its one-line Summary.
	Outcome string `json:"outcome,omitempty"`
	Summary string `json:"summary,omitempty"`
}

// checkRow is one line of the verification table: the check's latest sample.
type checkRow struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Threshold string `json:"threshold,omitempty"`
	Verdict   string `json:"verdict"`
	Why       string `json:"why,omitempty"`      // what exactly failed, for the thread
	Failures  int    `json:"failures,omitempty"` // failed samples in a row
}

// check is one verification check as configured: how to read it, or why it does not run.
type check struct {
	name, threshold string
	skip            string // why the check does not run ("not configured"); empty when it runs
	read            func(ctx context.Context, w window) (reading, error)
}

// reading is what one sample of a check found.
type reading struct {
	value  string
	failed bool
	why    string
}

// window is what a sample looks at: from the deploy's start up to now, and, for the checks that
// compare, the window of the same length just before the deploy.
type window struct{ since, now time.Time }

func (w window) before() (from, to time.Time) {
	return w.since.Add(-w.now.Sub(w.since)), w.since
}

// inWholeSeconds is w with both ends cut to the second, for a vendor that takes whole seconds
// (Sentry). Cut by the vendor's format instead, each window on its own, the one since the
// deploy could be a second longer than the one before it.
func (w window) inWholeSeconds() window {
	return window{since: w.since.Truncate(time.Second), now: w.now.Truncate(time.Second)}
}

// verify is the post-deployment verification: it samples every configured check each interval
// until the window ends. A check fails the verification when it fails on two samples in a row
// or on the last one; the deploy is stable when every check passed at the end.
func (s *Service) verify(ctx context.Context, x *runner.Exec) runner.Result {
	d, err := decodeData(x.Run())
	if err != nil {
		return runner.Failed(err.Error())
	}
	v := s.stepEnv(x.Run()).Verification
	checks := s.checks(v)
	if !anyRuns(checks) {
		return s.unchecked(ctx, x, d, v != nil)
	}
	var st verification
	if err := x.StepData(&st); err != nil {
		return runner.Failed(fmt.Sprintf("reading the verification's record: %v", err))
	}
	if st.Outcome == "" {
		now := x.Now()
		if st.Started.IsZero() {
			st = verification{Since: deployStart(d, now), Started: now, Ends: now.Add(v.Window.Std())}
		}
		sampleCtx, cancel := context.WithTimeout(ctx, sampleTimeout)
		rows, err := sample(sampleCtx, checks, window{st.Since, now}, st.Rows)
		cancel()
		if err != nil {
			return runner.Retry(err, backoff(attempts(x)))
		}
		st.Rows, st.Samples = rows, st.Samples+1
		final := !now.Before(st.Ends)
		if failing := failingRows(rows, final); len(failing) > 0 {
			st.Outcome, st.Summary = verifiedFailed, describeFailures(failing)
		} else if final {
			st.Outcome, st.Summary = verifiedPassed, describePass(rows, st)
		}
		if err := s.recordVerification(ctx, x, st); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
		if st.Outcome == "" {
			return runner.Poll(now, min(v.Interval.Std(), st.Ends.Sub(now)), progress(st))
		}
	}
	if st.Outcome == verifiedPassed {
		if err := s.opts.GitHub.SetDeploymentStatus(ctx, d.DeploymentID, "success", d.WorkflowRunURL, "verified by opsbot: "+st.Summary); err != nil {
			return retryOrFail(x, err, "marking the deployment successful")
		}
		return runner.Passed(st.Summary)
	}
	return s.failVerification(ctx, x, d, st)
}

// recordVerification saves the step's record and, once it concluded, the run's verdict, in one
// write: a restart then repeats the conclusion's effects instead of sampling again.
func (s *Service) recordVerification(ctx context.Context, x *runner.Exec, st verification) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding the verification's record: %w", err)
	}
	return x.Update(ctx, func(r *store.Run) error {
		r.StepByName(x.StepName()).Data = data
		if st.Outcome == "" {
			return nil
		}
		d, err := decodeData(*r)
		if err != nil {
			return err
		}
		d.Verified = st.Outcome
		return encodeData(r, d)
	})
}

// unchecked ends a verification that has nothing to check: it says so — never "passed" — and
// records the deployment as successful on GitHub.
func (s *Service) unchecked(ctx context.Context, x *runner.Exec, d runData, configured bool) runner.Result {
	if err := updateRunData(ctx, x, func(d *runData) { d.Verified = verifiedUnchecked }); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	why := "no checks configured"
	if configured {
		why = "no check can run: their integrations are not configured"
	}
	if err := s.opts.GitHub.SetDeploymentStatus(ctx, d.DeploymentID, "success", d.WorkflowRunURL, "deployed by opsbot; "+why); err != nil {
		return retryOrFail(x, err, "marking the deployment successful")
	}
	return runner.Skipped("skipped: " + why)
}

// failVerification marks the deployment failed and tells the deployer and the on-call, in the
// thread, what failed and what they can do.
func (s *Service) failVerification(ctx context.Context, x *runner.Exec, d runData, st verification) runner.Result {
	if err := s.opts.GitHub.SetDeploymentStatus(ctx, d.DeploymentID, "failure", d.WorkflowRunURL, "failed verification: "+chat.Truncate(st.Summary, 120)); err != nil {
		return retryOrFail(x, err, "marking the deployment failed")
	}
	run := x.Run()
	if run.Kind == store.KindRollback && d.NextStable == "" {
		next, err := s.nextStable(ctx, run.Env)
		if err != nil {
			return runner.Retry(err, 5*time.Second)
		}
		if err := updateRunData(ctx, x, func(d *runData) { d.NextStable = next }); err != nil {
			return runner.Retry(err, 5*time.Second)
		}
		d.NextStable = next
	}
	if err := s.postThread(ctx, x.Run(), "verification-failed", s.renderFailureAlert(x.Run(), d, st)); err != nil {
		return runner.Retry(err, 5*time.Second)
	}
	return runner.Failed(st.Summary)
}

// deployStart is when the deploy began to change the environment: the workflow's dispatch or
// the tag push that started it.
func deployStart(d runData, fallback time.Time) time.Time {
	switch {
	case d.DispatchedAt != nil:
		return *d.DispatchedAt
	case d.TaggedAt != nil:
		return *d.TaggedAt
	}
	return fallback
}

func anyRuns(checks []check) bool {
	for _, c := range checks {
		if c.skip == "" {
			return true
		}
	}
	return false
}

// sample reads every check once. An integration failing in a way that may clear up (a 5xx, a
// throttle, a timeout) makes the whole sample be taken again later; any other failure to read a
// check fails that check, as verification cannot vouch for what it cannot read.
func sample(ctx context.Context, checks []check, w window, previous []checkRow) ([]checkRow, error) {
	rows := make([]checkRow, len(checks))
	for i, c := range checks {
		row := checkRow{Name: c.name, Threshold: c.threshold, Verdict: verdictPassed}
		if c.skip != "" {
			row.Value, row.Threshold, row.Verdict = c.skip, "", verdictSkipped
			rows[i] = row
			continue
		}
		r, err := c.read(ctx, w)
		switch {
		case transient(err):
			return nil, fmt.Errorf("reading %s: %w", c.name, err)
		case err != nil:
			r = reading{value: "could not read", failed: true, why: err.Error()}
		}
		row.Value, row.Why = r.value, r.why
		if r.failed {
			row.Verdict, row.Failures = verdictFailed, 1+failuresOf(previous, c.name)
		}
		rows[i] = row
	}
	return rows, nil
}

// transient reports whether an integration's error may clear up by itself; each integration's
// error type says so.
func transient(err error) bool {
	var t interface{ Transient() bool }
	return errors.As(err, &t) && t.Transient()
}

func failuresOf(rows []checkRow, name string) int {
	for _, r := range rows {
		if r.Name == name {
			return r.Failures
		}
	}
	return 0
}

// failingRows are the checks that fail the verification: failed twice in a row, or on the
// last sample.
func failingRows(rows []checkRow, final bool) []checkRow {
	var failing []checkRow
	for _, r := range rows {
		if r.Failures >= 2 || final && r.Failures > 0 {
			failing = append(failing, r)
		}
	}
	return failing
}

func describeFailures(failing []checkRow) string {
	parts := make([]string, len(failing))
	for i, r := range failing {
		parts[i] = r.Name + " " + r.Value
	}
	return strings.Join(parts, "; ")
}

func describePass(rows []checkRow, st verification) string {
	passed, skipped := 0, 0
	for _, r := range rows {
		if r.Verdict == verdictSkipped {
			skipped++
		} else {
			passed++
		}
	}
	text := fmt.Sprintf("%d %s passed over %s (%d %s)", passed, plural(passed, "check", "checks"),
		chat.Duration(st.Ends.Sub(st.Started)), st.Samples, plural(st.Samples, "sample", "samples"))
	if skipped > 0 {
		text += fmt.Sprintf("; %d not configured", skipped)
	}
	return text
}

// progress is the waiting step's detail: how far the window is and what fails so far.
func progress(st verification) string {
	var failing []string
	for _, r := range st.Rows {
		if r.Verdict == verdictFailed {
			failing = append(failing, r.Name)
		}
	}
	status := "every check passing"
	if len(failing) > 0 {
		status = strings.Join(failing, ", ") + " failing once"
	}
	return fmt.Sprintf("sample %d · %s · window ends %s", st.Samples, status, chat.Time(st.Ends))
}

// checks are the environment's checks, in the table's order; every kind is listed, so that one
// that is not configured shows as such.
func (s *Service) checks(v *config.Verification) []check {
	if v == nil {
		return nil
	}
	return []check{
		s.targetHealthCheck(v.Health),
		s.healthURLCheck(v.Health),
		s.logsCheck(v.Logs),
		s.alarmsCheck(v.Alarms),
		s.responseTimeCheck(v.ResponseTime),
		s.cpuCheck(v.CPU),
		s.cacheCheck(v.Cache),
		s.sentryCheck(v.Sentry),
		s.newRelicCheck(v.NewRelic),
		s.pingdomCheck(v.Pingdom),
	}
}

// notConfigured is the reason a check does not run. configured says its settings are there;
// client says its integration is.
func notConfigured(configured, client bool, integration string) string {
	switch {
	case !configured:
		return "not configured"
	case !client:
		return "not configured: no " + integration
	}
	return ""
}

func (s *Service) targetHealthCheck(h *config.HealthCheck) check {
	c := check{name: "Target health", threshold: "all healthy"}
	if c.skip = notConfigured(h != nil && len(h.TargetGroups) > 0, s.opts.AWS != nil, "AWS"); c.skip != "" {
		return c
	}
	c.name = fmt.Sprintf("Target health (%d %s)", len(h.TargetGroups), plural(len(h.TargetGroups), "group", "groups"))
	c.read = func(ctx context.Context, _ window) (reading, error) {
		health, err := s.opts.AWS.TargetHealth(ctx, h.TargetGroups)
		if err != nil {
			return reading{}, err
		}
		r := reading{value: fmt.Sprintf("%d/%d healthy", health.Healthy, health.Total)}
		switch {
		case health.Total == 0:
			r.failed, r.why = true, "no targets are registered in the target groups"
		case len(health.Unhealthy) > 0:
			targets := make([]string, len(health.Unhealthy))
			for i, t := range health.Unhealthy {
				targets[i] = fmt.Sprintf("%s:%d %s", t.ID, t.Port, t.State)
				if t.Reason != "" {
					targets[i] += " (" + t.Reason + ")"
				}
			}
			r.failed, r.why = true, strings.Join(targets, ", ")
		}
		return r, nil
	}
	return c
}

func (s *Service) healthURLCheck(h *config.HealthCheck) check {
	c := check{name: "Health URL", threshold: "2xx"}
	if c.skip = notConfigured(h != nil && h.URL != "", true, ""); c.skip != "" {
		return c
	}
	c.read = func(ctx context.Context, _ window) (reading, error) {
		ctx, cancel := context.WithTimeout(ctx, healthTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
		if err != nil {
			return reading{}, fmt.Errorf("asking %s: %w", h.URL, err)
		}
		resp, err := s.opts.HTTP.Do(req)
		if err != nil {
			// Unreachable is unhealthy: that is what a health URL is for.
			return reading{value: "unreachable", failed: true, why: err.Error()}, nil
		}
		resp.Body.Close()
		r := reading{value: resp.Status}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			r.failed, r.why = true, fmt.Sprintf("GET %s answered %s", h.URL, resp.Status)
		}
		return r, nil
	}
	return c
}

func (s *Service) logsCheck(l *config.LogsCheck) check {
	c := check{name: "Errors in logs"}
	if c.skip = notConfigured(l != nil, s.opts.AWS != nil, "AWS"); c.skip != "" {
		return c
	}
	c.threshold = fmt.Sprintf("≤ %d", *l.MaxErrors)
	c.read = func(ctx context.Context, w window) (reading, error) {
		n, err := s.opts.AWS.CountLogEvents(ctx, l.Group, l.Pattern, w.since, w.now)
		if err != nil {
			return reading{}, err
		}
		r := reading{value: fmt.Sprint(n)}
		if n > *l.MaxErrors {
			r.failed, r.why = true, fmt.Sprintf("%d events match %q in %s since the deploy started", n, l.Pattern, l.Group)
		}
		return r, nil
	}
	return c
}

func (s *Service) alarmsCheck(names []string) check {
	c := check{name: "Alarms", threshold: "none in ALARM or missing"}
	if c.skip = notConfigured(len(names) > 0, s.opts.AWS != nil, "AWS"); c.skip != "" {
		return c
	}
	c.name = fmt.Sprintf("Alarms (%d)", len(names))
	c.read = func(ctx context.Context, _ window) (reading, error) {
		states, missing, err := s.opts.AWS.Alarms(ctx, names)
		if err != nil {
			return reading{}, err
		}
		var firing []string
		for _, name := range names {
			if states[name] == aws.AlarmFiring {
				firing = append(firing, name)
			}
		}
		var problems []string
		if len(firing) > 0 {
			problems = append(problems, strings.Join(firing, ", ")+" in ALARM")
		}
		if len(missing) > 0 {
			problems = append(problems, "missing: "+strings.Join(missing, ", "))
		}
		if len(problems) == 0 {
			return reading{value: "none in ALARM"}, nil
		}
		return reading{value: strings.Join(problems, "; "), failed: true, why: strings.Join(problems, "; ")}, nil
	}
	return c
}

func (s *Service) responseTimeCheck(rt *config.ResponseTimeCheck) check {
	c := check{name: "TargetResponseTime p95"}
	if c.skip = notConfigured(rt != nil, s.opts.AWS != nil, "AWS"); c.skip != "" {
		return c
	}
	limit := rt.MaxP95.Std()
	c.threshold = fmt.Sprintf("≤ %s, ≤ +%d %%", millis(limit), rt.MaxIncrease)
	q := aws.MetricQuery{Namespace: "AWS/ApplicationELB", Name: "TargetResponseTime",
		Dimensions: map[string]string{"LoadBalancer": rt.LoadBalancer}, Stat: "p95"}
	c.read = func(ctx context.Context, w window) (reading, error) {
		after, before, found, err := s.metricVsBefore(ctx, q, w)
		if err != nil || !found {
			return noData(err, q)
		}
		seconds := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
		return compare(millis(seconds(after)), after, before, after > limit.Seconds(), rt.MaxIncrease), nil
	}
	return c
}

func (s *Service) cpuCheck(cpu *config.CPUCheck) check {
	c := check{name: "CPUUtilization"}
	if c.skip = notConfigured(cpu != nil, s.opts.AWS != nil, "AWS"); c.skip != "" {
		return c
	}
	c.threshold = fmt.Sprintf("≤ %.0f %%, ≤ +%d %%", cpu.Max, cpu.MaxIncrease)
	q := aws.MetricQuery{Namespace: "AWS/EC2", Name: "CPUUtilization",
		Dimensions: map[string]string{"AutoScalingGroupName": cpu.AutoScalingGroup}, Stat: "Average"}
	c.read = func(ctx context.Context, w window) (reading, error) {
		after, before, found, err := s.metricVsBefore(ctx, q, w)
		if err != nil || !found {
			return noData(err, q)
		}
		return compare(fmt.Sprintf("%.0f %%", after), after, before, after > cpu.Max, cpu.MaxIncrease), nil
	}
	return c
}

// metricVsBefore reads a metric since the deploy and over the same window before it; before is
// 0 when there was no data then (nothing to compare with).
func (s *Service) metricVsBefore(ctx context.Context, q aws.MetricQuery, w window) (after, before float64, found bool, err error) {
	after, found, err = s.opts.AWS.Metric(ctx, q, w.since, w.now)
	if err != nil || !found {
		return 0, 0, found, err
	}
	from, to := w.before()
	before, _, err = s.opts.AWS.Metric(ctx, q, from, to)
	return after, before, true, err
}

// noData is a metric check's reading when CloudWatch has nothing: most often dimensions that
// match no metric, which verification must not pass.
func noData(err error, q aws.MetricQuery) (reading, error) {
	if err != nil {
		return reading{}, err
	}
	return reading{value: "no data", failed: true,
		why: fmt.Sprintf("CloudWatch has no %s %s for %v since the deploy; check the dimensions", q.Namespace, q.Name, q.Dimensions)}, nil
}

// compare is a reading of a value against its absolute limit (overLimit) and against the window
// before the deploy.
func compare(shown string, after, before float64, overLimit bool, maxIncrease int) reading {
	r := reading{value: shown, failed: overLimit}
	if before > 0 {
		change := (after - before) / before * 100
		r.value += fmt.Sprintf(" (%+.0f %%)", change)
		r.failed = r.failed || change > float64(maxIncrease)
	}
	if r.failed {
		r.why = r.value + " since the deploy"
	}
	return r
}

func (s *Service) cacheCheck(cache *config.CacheCheck) check {
	c := check{name: "Cache hit rate"}
	if c.skip = notConfigured(cache != nil, s.opts.AWS != nil, "AWS"); c.skip != "" {
		return c
	}
	c.threshold = fmt.Sprintf("≥ %.2f", cache.MinHitRate)
	c.read = func(ctx context.Context, w window) (reading, error) {
		ratio, found, err := s.opts.AWS.CacheHitRatio(ctx, map[string]string{"CacheClusterId": cache.Cluster}, w.since, w.now)
		if err != nil {
			return reading{}, err
		}
		if !found {
			return reading{value: "no lookups", failed: true, why: "ElastiCache reports no hits or misses for " + cache.Cluster + " since the deploy"}, nil
		}
		r := reading{value: fmt.Sprintf("%.2f", ratio)}
		if ratio < cache.MinHitRate {
			r.failed, r.why = true, fmt.Sprintf("%s hit %.0f %% of lookups since the deploy", cache.Cluster, ratio*100)
		}
		return r, nil
	}
	return c
}

func (s *Service) sentryCheck(sc *config.SentryCheck) check {
	c := check{name: "Sentry errors vs before"}
	if c.skip = notConfigured(sc != nil, s.opts.Sentry != nil, "Sentry token"); c.skip != "" {
		return c
	}
	c.threshold = fmt.Sprintf("≤ +%d %%", sc.MaxIncrease)
	c.read = func(ctx context.Context, w window) (reading, error) {
		w = w.inWholeSeconds()
		after, err := s.opts.Sentry.ErrorCount(ctx, sc.Org, sc.ProjectID, w.since, w.now)
		if err != nil {
			return reading{}, err
		}
		from, to := w.before()
		before, err := s.opts.Sentry.ErrorCount(ctx, sc.Org, sc.ProjectID, from, to)
		if err != nil {
			return reading{}, err
		}
		if before == 0 {
			r := reading{value: fmt.Sprintf("%d, none before", after), failed: after > 0}
			if r.failed {
				r.why = fmt.Sprintf("%d new errors in Sentry since the deploy, none in the window before", after)
			}
			return r, nil
		}
		r := compare(fmt.Sprintf("%d vs %d", after, before), float64(after), float64(before), false, sc.MaxIncrease)
		if r.failed {
			r.why = fmt.Sprintf("%d errors in Sentry since the deploy, %d in the same time before", after, before)
		}
		return r, nil
	}
	return c
}

func (s *Service) newRelicCheck(nr *config.NewRelicCheck) check {
	c := check{name: "New Relic p95"}
	if c.skip = notConfigured(nr != nil, s.opts.NewRelic != nil, "New Relic key"); c.skip != "" {
		return c
	}
	limit := nr.MaxP95.Std()
	c.threshold = fmt.Sprintf("≤ %s, ≤ +%d %%", millis(limit), nr.MaxIncrease)
	c.read = func(ctx context.Context, w window) (reading, error) {
		after, found, err := s.opts.NewRelic.ResponseTimeP95(ctx, nr.AccountID, nr.App, w.since, w.now)
		if err != nil {
			return reading{}, err
		}
		if !found {
			return reading{value: "no data", failed: true, why: fmt.Sprintf("New Relic has no transactions of %s since the deploy", nr.App)}, nil
		}
		from, to := w.before()
		before, _, err := s.opts.NewRelic.ResponseTimeP95(ctx, nr.AccountID, nr.App, from, to)
		if err != nil {
			return reading{}, err
		}
		return compare(millis(after), after.Seconds(), before.Seconds(), after > limit, nr.MaxIncrease), nil
	}
	return c
}

func (s *Service) pingdomCheck(p *config.PingdomCheck) check {
	c := check{name: "Pingdom", threshold: "up"}
	if c.skip = notConfigured(p != nil, s.opts.Pingdom != nil, "Pingdom token"); c.skip != "" {
		return c
	}
	c.read = func(ctx context.Context, _ window) (reading, error) {
		chk, err := s.opts.Pingdom.CheckStatus(ctx, p.CheckID)
		if err != nil {
			return reading{}, err
		}
		r := reading{value: strings.ReplaceAll(string(chk.Status), "_", " ")}
		if chk.Status != pingdom.StatusUp {
			r.failed, r.why = true, fmt.Sprintf("the check %s is %s", chk.Name, r.value)
		}
		return r, nil
	}
	return c
}

// millis shows a response time as people read one: "182 ms", "1.2 s".
func millis(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
