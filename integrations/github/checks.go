package github

import (
	"context"
	"slices"
	"time"

	gogithub "github.com/google/go-github/v60/github"
)

// CheckSummary is where a commit's CI stands: its check runs and commit statuses, one per name.
type CheckSummary struct {
	Total, Passed, Pending, Failed int
	Failing                        []Check  // sorted by name
	PendingNames                   []string // sorted; includes required contexts that never reported
}

// Check is one check run or commit status.
type Check struct {
	Name       string
	URL        string // where to read why
	Conclusion string // e.g. failure, timed_out, cancelled; a commit status's failure or error
}

type checkVerdict int

const (
	checkPending checkVerdict = iota
	checkPassed
	checkFailed
)

// checkResult is a check run or commit status reduced to what the summary needs.
type checkResult struct {
	Check
	verdict checkVerdict
	at      time.Time // when it last changed: a later result of the same name wins
}

// Checks summarises the CI of commit sha: every check run (all pages) and every commit status
// (the latest of each context), one per name with the latest winning. A check run passes when it
// concludes success, neutral or skipped; a status passes on success. With required contexts
// given, only those count, and one that never reported is pending; with none, all count.
func (c *Client) Checks(ctx context.Context, sha string, required []string) (CheckSummary, error) {
	op := "reading the checks of " + sha
	runs, resp, err := allPages(func(page gogithub.ListOptions) ([]*gogithub.CheckRun, *gogithub.Response, error) {
		result, resp, err := c.gh.Checks.ListCheckRunsForRef(ctx, c.owner, c.repo, sha, &gogithub.ListCheckRunsOptions{ListOptions: page})
		if err != nil {
			return nil, resp, err
		}
		return result.CheckRuns, resp, nil
	})
	if err != nil {
		return CheckSummary{}, fail(ctx, op, resp, err)
	}
	statuses, resp, err := allPages(func(page gogithub.ListOptions) ([]*gogithub.RepoStatus, *gogithub.Response, error) {
		combined, resp, err := c.gh.Repositories.GetCombinedStatus(ctx, c.owner, c.repo, sha, &page)
		if err != nil {
			return nil, resp, err
		}
		return combined.Statuses, resp, nil
	})
	if err != nil {
		return CheckSummary{}, fail(ctx, op, resp, err)
	}

	latest := map[string]checkResult{}
	keep := func(r checkResult) {
		if previous, seen := latest[r.Name]; !seen || !r.at.Before(previous.at) {
			latest[r.Name] = r
		}
	}
	for _, run := range runs {
		keep(checkRunResult(run))
	}
	for _, status := range statuses {
		keep(statusResult(status))
	}
	names := required
	if len(names) == 0 {
		for name := range latest {
			names = append(names, name)
		}
	}
	return summarise(names, latest), nil
}

func checkRunResult(run *gogithub.CheckRun) checkResult {
	r := checkResult{
		Check: Check{Name: run.GetName(), URL: run.GetHTMLURL(), Conclusion: run.GetConclusion()},
		at:    run.GetStartedAt().Time,
	}
	if run.GetStatus() != "completed" {
		return r
	}
	r.at = run.GetCompletedAt().Time
	switch run.GetConclusion() {
	case "success", "neutral", "skipped":
		r.verdict = checkPassed
	default:
		r.verdict = checkFailed
	}
	return r
}

func statusResult(status *gogithub.RepoStatus) checkResult {
	r := checkResult{
		Check: Check{Name: status.GetContext(), URL: status.GetTargetURL(), Conclusion: status.GetState()},
		at:    status.GetUpdatedAt().Time,
	}
	switch status.GetState() {
	case "success":
		r.verdict = checkPassed
	case "failure", "error":
		r.verdict = checkFailed
	}
	return r
}

// summarise counts the named checks; a name without a result is pending.
func summarise(names []string, results map[string]checkResult) CheckSummary {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	summary := CheckSummary{Total: len(names)}
	for _, name := range names {
		switch r, reported := results[name]; {
		case reported && r.verdict == checkPassed:
			summary.Passed++
		case reported && r.verdict == checkFailed:
			summary.Failed++
			summary.Failing = append(summary.Failing, r.Check)
		default:
			summary.Pending++
			summary.PendingNames = append(summary.PendingNames, name)
		}
	}
	return summary
}
