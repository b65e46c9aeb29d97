package fakegithub

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The repository's CI: two check runs from GitHub Actions and a commit status from a coverage
// service, reported on every commit that lands on a branch.
var ciCheckNames = []string{"build", "test"}

const (
	ciStatusContext = "codecov/project"
	ciStatusCreator = "codecov[bot]"
)

// runCI reports green CI for sha at now.
func (st *state) runCI(sha string, now time.Time) {
	for _, name := range ciCheckNames {
		st.checkRuns = append(st.checkRuns, &checkRun{
			id: st.newID(), sha: sha, name: name, status: "completed", conclusion: "success",
			startedAt: now, completedAt: now,
		})
	}
	st.statuses = append(st.statuses, &commitStatus{
		id: st.newID(), sha: sha, state: "success", context: ciStatusContext,
		description: "92.4% (+0.1%) compared to base", creator: ciStatusCreator, createdAt: now,
	})
}

// checkRunsOf returns sha's check runs, one per name, sorted by name.
func (st *state) checkRunsOf(sha string) []*checkRun {
	var runs []*checkRun
	for _, c := range st.checkRuns {
		if c.sha == sha {
			runs = append(runs, c)
		}
	}
	slices.SortFunc(runs, func(a, b *checkRun) int { return strings.Compare(a.name, b.name) })
	return runs
}

func (s *Server) listCheckRuns(c *call) reply {
	commit, found := s.resolve(c.params["ref"])
	if !found {
		return apiError(http.StatusUnprocessableEntity, "No commit found for SHA: "+c.params["ref"])
	}
	var runs []*checkRun
	for _, run := range s.checkRunsOf(commit.sha) {
		if (c.query("check_name") == "" || c.query("check_name") == run.name) &&
			(c.query("status") == "" || c.query("status") == run.status) {
			runs = append(runs, run)
		}
	}
	page, header := paginate(s, c, runs)
	body := make([]object, len(page))
	for i, run := range page {
		body[i] = s.checkRunJSON(run)
	}
	return reply{status: http.StatusOK, header: header, body: object{"total_count": len(runs), "check_runs": body}}
}

// latestStatuses returns the newest status of each context on sha.
func (st *state) latestStatuses(sha string) []*commitStatus {
	latest := map[string]*commitStatus{}
	var order []string
	for _, status := range st.statuses {
		if status.sha != sha {
			continue
		}
		if _, seen := latest[status.context]; !seen {
			order = append(order, status.context)
		}
		latest[status.context] = status
	}
	statuses := make([]*commitStatus, len(order))
	for i, context := range order {
		statuses[i] = latest[context]
	}
	return statuses
}

func (s *Server) getCombinedStatus(c *call) reply {
	commit, found := s.resolve(c.params["ref"])
	if !found {
		return notFound()
	}
	statuses := s.latestStatuses(commit.sha)
	// GitHub: failure if any context failed or errored, else pending if any is pending or
	// there are none, else success.
	state := "success"
	if len(statuses) == 0 {
		state = "pending"
	}
	body := make([]object, len(statuses))
	for i, status := range statuses {
		body[i] = s.statusJSON(status)
		switch {
		case status.state == "failure" || status.state == "error":
			state = "failure"
		case status.state == "pending" && state != "failure":
			state = "pending"
		}
	}
	return ok(object{
		"state": state, "sha": commit.sha, "total_count": len(statuses), "statuses": body,
		"repository": s.repositoryJSON(), "commit_url": s.repoURL() + "/commits/" + commit.sha,
		"url": s.repoURL() + "/commits/" + commit.sha + "/status",
	})
}

func (s *Server) listStatuses(c *call) reply {
	commit, found := s.resolve(c.params["ref"])
	if !found {
		return notFound()
	}
	var statuses []*commitStatus
	for _, status := range slices.Backward(s.statuses) {
		if status.sha == commit.sha {
			statuses = append(statuses, status)
		}
	}
	return list(s, c, statuses, s.statusJSON)
}

func (s *Server) createStatus(c *call) reply {
	sha := c.params["sha"]
	if _, found := s.commits[sha]; !found {
		return apiError(http.StatusUnprocessableEntity, "No commit found for SHA: "+sha)
	}
	var req struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if answer, ok := decode(c, &req); !ok {
		return answer
	}
	status := &commitStatus{
		id: s.newID(), sha: sha, state: req.State, context: cmp.Or(req.Context, "default"),
		description: req.Description, targetURL: req.TargetURL, creator: tokenUser, createdAt: c.now,
	}
	s.statuses = append(s.statuses, status)
	return created(s.statusJSON(status))
}
