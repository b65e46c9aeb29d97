package fakegithub

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fault is something that can be made to go wrong, named as the console names it.
type Fault string

// The faults. Fail's n means, for each:
const (
	// FaultServerError: the next n requests get 500.
	FaultServerError Fault = "github 500"
	// FaultTooManyRequests: the next n requests get 429 with Retry-After, GitHub's secondary rate limit.
	FaultTooManyRequests Fault = "github 429"
	// FaultAbuseForbidden: the next n requests get the 403 form of the secondary rate limit, the
	// one go-github reports as *github.AbuseRateLimitError.
	FaultAbuseForbidden Fault = "github 403"
	// FaultCIFail: on the heads of develop and of every release/* branch, n check runs (by name
	// order) conclude failure now. Commits pushed later get green CI again.
	FaultCIFail Fault = "ci fail"
	// FaultCIPending: on the same heads, n check runs go back to in_progress and stay there.
	FaultCIPending Fault = "ci pending"
	// FaultWorkflowFail: the next n workflow runs fail at their deploy step.
	FaultWorkflowFail Fault = "workflow fail"
	// FaultSoakYoung: the newest n deployments to "development" become 1 h old, so a 24 h soak
	// has not passed.
	FaultSoakYoung Fault = "soak young"
)

// Faults lists every fault, for the console's help.
func Faults() []Fault {
	return []Fault{
		FaultServerError, FaultTooManyRequests, FaultAbuseForbidden, FaultCIFail, FaultCIPending, FaultWorkflowFail, FaultSoakYoung,
	}
}

// requestFaults are the counted faults that fail a request, in the order they are taken.
var requestFaults = []Fault{FaultServerError, FaultTooManyRequests, FaultAbuseForbidden}

// Fail arranges for n occurrences of the fault kind (see each Fault for what n counts).
func (s *Server) Fail(kind Fault, n int) error {
	if n < 1 {
		return fmt.Errorf("fault %q needs a count of at least 1, not %d", kind, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock.Now()
	switch kind {
	case FaultServerError, FaultTooManyRequests, FaultAbuseForbidden, FaultWorkflowFail:
		s.faults[kind] += n
	case FaultCIFail, FaultCIPending:
		s.breakCI(kind, n, now)
	case FaultSoakYoung:
		s.makeDevelopmentYoung(n, now)
	default:
		return fmt.Errorf("unknown fault %q; the faults are %q", kind, Faults())
	}
	return nil
}

// Latency makes every request take at least d (0 for none), as a slow network would.
func (s *Server) Latency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

func (st *state) takeFault(kind Fault) bool {
	if st.faults[kind] == 0 {
		return false
	}
	st.faults[kind]--
	return true
}

func (st *state) takeRequestFault() (Fault, bool) {
	for _, kind := range requestFaults {
		if st.takeFault(kind) {
			return kind, true
		}
	}
	return "", false
}

func (s *Server) faultReply(kind Fault) reply {
	if kind == FaultServerError {
		return apiError(http.StatusInternalServerError, "Server Error")
	}
	status := http.StatusTooManyRequests
	if kind == FaultAbuseForbidden {
		status = http.StatusForbidden
	}
	header := http.Header{}
	header.Set("Retry-After", strconv.Itoa(int(s.opts.SecondaryRetryAfter.Seconds())))
	return reply{status: status, header: header, body: object{
		"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
		"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
	}}
}

func (s *Server) breakCI(kind Fault, n int, now time.Time) {
	heads := map[string]bool{s.refs["refs/heads/develop"]: true}
	for _, ref := range s.refNames("refs/heads/release/") {
		heads[s.refs[ref]] = true
	}
	for sha := range heads {
		runs := s.checkRunsOf(sha)
		for _, run := range runs[:min(n, len(runs))] {
			if kind == FaultCIFail {
				run.status, run.conclusion, run.completedAt = "completed", "failure", now
			} else {
				run.status, run.conclusion, run.startedAt, run.completedAt = "in_progress", "", now, time.Time{}
			}
		}
	}
}

func (s *Server) makeDevelopmentYoung(n int, now time.Time) {
	for _, d := range slices.Backward(s.deployments) {
		if n == 0 {
			return
		}
		if d.Environment != "development" {
			continue
		}
		n--
		shift := now.Add(-time.Hour).Sub(d.CreatedAt)
		d.CreatedAt, d.UpdatedAt = d.CreatedAt.Add(shift), d.UpdatedAt.Add(shift)
		for i := range d.Statuses {
			d.Statuses[i].CreatedAt = d.Statuses[i].CreatedAt.Add(shift)
		}
	}
}

// Calls counts the requests the fake received.
type Calls struct {
	Total       int
	NotModified int            // answered 304; these do not count against the rate limit
	ByRoute     map[string]int // "GET /repos/{owner}/{repo}/git/ref/{ref...}" → count
}

// Calls returns the request counts so far.
func (s *Server) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	calls.ByRoute = maps.Clone(s.calls.ByRoute)
	return calls
}

// countCall records a request and returns the latency to impose on it.
func (s *Server) countCall(route string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.Total++
	s.calls.ByRoute[route]++
	return s.latency
}

// rateWindow is the hourly rate-limit window. It runs on the wall clock, not Options.Clock:
// clients (go-github among them) compare X-RateLimit-Reset with their own wall clock, so a reset
// on an advanced clock would hold them back for however far the clock was advanced.
type rateWindow struct {
	used  int
	reset time.Time
}

func (s *Server) rollRate() {
	if now := time.Now(); !now.Before(s.rate.reset) {
		s.rate = rateWindow{reset: now.Add(time.Hour).Truncate(time.Second)}
	}
}

func (s *Server) rateSpent() bool {
	s.rollRate()
	return s.rate.used >= s.opts.RateLimit
}

// spendRate counts a request against the rate limit (unless it was answered 304) and sets the
// X-RateLimit headers.
func (s *Server) spendRate(notModified bool, header http.Header) {
	s.rollRate()
	if notModified {
		s.calls.NotModified++
	} else if s.rate.used < s.opts.RateLimit {
		s.rate.used++
	}
	header.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	header.Set("X-RateLimit-Remaining", strconv.Itoa(s.opts.RateLimit-s.rate.used))
	header.Set("X-RateLimit-Used", strconv.Itoa(s.rate.used))
	header.Set("X-RateLimit-Reset", strconv.FormatInt(s.rate.reset.Unix(), 10))
	header.Set("X-RateLimit-Resource", "core")
}

// PushCommit adds a commit by alice on top of branch, with green CI, and returns its sha —
// as a developer pushing to the branch would.
func (s *Server) PushCommit(branch, message string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := "refs/heads/" + branch
	head, exists := s.refs[ref]
	if !exists {
		return "", fmt.Errorf("pushing to %s: no such branch", branch)
	}
	now := s.opts.Clock.Now()
	c := s.newCommit([]string{head}, message, "alice", now)
	s.setRef(ref, c.sha)
	s.runCI(c.sha, now)
	return c.sha, nil
}

// checkStates maps what SetCheck accepts to a check run's status.
var checkStates = map[string]string{
	"queued": "queued", "in_progress": "in_progress", "success": "completed", "failure": "completed",
	"neutral": "completed", "cancelled": "completed", "skipped": "completed", "timed_out": "completed",
	"action_required": "completed",
}

// SetCheck sets the check run called name on commit (a sha, branch or tag) to state: queued,
// in_progress, or a conclusion (success, failure, neutral, cancelled, skipped, timed_out,
// action_required). The check run is created if commit has none of that name.
func (s *Server) SetCheck(commit, name, state string) error {
	status, known := checkStates[state]
	if !known {
		return fmt.Errorf("setting check %s: unknown state %q", name, state)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, found := s.resolve(commit)
	if !found {
		return fmt.Errorf("setting check %s: no commit %s", name, commit)
	}
	now := s.opts.Clock.Now()
	var run *checkRun
	for _, existing := range s.checkRunsOf(c.sha) {
		if existing.name == name {
			run = existing
		}
	}
	if run == nil {
		run = &checkRun{id: s.newID(), sha: c.sha, name: name}
		s.checkRuns = append(s.checkRuns, run)
	}
	run.status, run.conclusion, run.startedAt, run.completedAt = status, "", now, time.Time{}
	if status == "completed" {
		run.conclusion, run.completedAt = state, now
	}
	return nil
}

// AddReview records login's review of pull request number on its current head; state is
// APPROVED, CHANGES_REQUESTED or COMMENTED.
func (s *Server) AddReview(number int, login, state string) error {
	if state != "APPROVED" && state != "CHANGES_REQUESTED" && state != "COMMENTED" {
		return fmt.Errorf("reviewing #%d: unknown review state %q", number, state)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pr := range s.pulls {
		if pr.Number == number {
			pr.Reviews = append(pr.Reviews, Review{
				ID: s.newID(), Login: login, State: state, CommitID: pr.HeadSHA, SubmittedAt: s.opts.Clock.Now(),
			})
			return nil
		}
	}
	return fmt.Errorf("reviewing #%d: no such pull request", number)
}

// Merges returns the pull requests merged since the seed, in order.
func (s *Server) Merges() []Merge {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.merges)
}

// Tags returns every tag, sorted by name.
func (s *Server) Tags() []Tag {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tags []Tag
	for _, ref := range s.refNames("refs/tags/") {
		target := s.refs[ref]
		tag := Tag{Name: strings.TrimPrefix(ref, "refs/tags/"), SHA: s.peel(target)}
		if object, annotated := s.tagObjects[target]; annotated {
			tag.Annotated, tag.Message = true, object.message
		}
		tags = append(tags, tag)
	}
	return tags
}

// Releases returns every release, oldest first.
func (s *Server) Releases() []Release {
	s.mu.Lock()
	defer s.mu.Unlock()
	releases := make([]Release, len(s.releases))
	for i, r := range s.releases {
		releases[i] = *r
	}
	return releases
}

// WorkflowRuns returns every run of the deploy workflow as it stands now, oldest first.
func (s *Server) WorkflowRuns() []WorkflowRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock.Now()
	runs := make([]WorkflowRun, len(s.runs))
	for i, r := range s.runs {
		runs[i] = s.snapshot(r, now)
	}
	return runs
}

// Deployments returns every deployment with its statuses, oldest first.
func (s *Server) Deployments() []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	deployments := make([]Deployment, len(s.deployments))
	for i, d := range s.deployments {
		deployments[i] = *d
		deployments[i].Statuses = slices.Clone(d.Statuses)
	}
	return deployments
}

// PullRequests returns every pull request with its reviews, by number.
func (s *Server) PullRequests() []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	pulls := make([]PullRequest, len(s.pulls))
	for i, pr := range s.pulls {
		pulls[i] = *pr
		pulls[i].Reviews = slices.Clone(pr.Reviews)
	}
	return pulls
}

// Branch returns the sha branch points at.
func (s *Server) Branch(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok := s.refs["refs/heads/"+name]
	return sha, ok
}
