package fakegithub

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

func (s *Server) deployment(c *call) (*Deployment, bool) {
	return byID(c, "id", s.deployments, func(d *Deployment) int64 { return d.ID })
}

func (s *Server) listDeployments(c *call) reply {
	var matching []*Deployment
	for _, d := range slices.Backward(s.deployments) {
		if matches(c.query("sha"), d.SHA) && matches(c.query("ref"), d.Ref) &&
			matches(c.query("task"), d.Task) && matches(c.query("environment"), d.Environment) {
			matching = append(matching, d)
		}
	}
	return list(s, c, matching, s.deploymentJSON)
}

// matches reports whether a list filter is unset or equals value.
func matches(filter, value string) bool { return filter == "" || filter == value }

func (s *Server) getDeployment(c *call) reply {
	d, found := s.deployment(c)
	if !found {
		return notFound()
	}
	return ok(s.deploymentJSON(d))
}

func (s *Server) createDeployment(c *call) reply {
	var req struct {
		Ref              string    `json:"ref"`
		Task             string    `json:"task"`
		RequiredContexts *[]string `json:"required_contexts"`
		Payload          any       `json:"payload"`
		Environment      string    `json:"environment"`
		Description      string    `json:"description"`
	}
	if answer, ok := decode(c, &req); !ok {
		return answer
	}
	commit, found := s.resolve(req.Ref)
	if !found {
		return apiError(http.StatusUnprocessableEntity, "No ref found for: "+req.Ref)
	}
	if failing := s.failingContexts(commit.sha, req.RequiredContexts); len(failing) > 0 {
		return reply{status: http.StatusConflict, body: object{
			"message": "Conflict: Commit status checks failed for " + req.Ref + ".",
			"errors": []object{{
				"contexts": failing, "resource": "Deployment", "field": "required_contexts", "code": "invalid",
			}},
			"documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment",
		}}
	}
	d := &Deployment{
		ID: s.newID(), SHA: commit.sha, Ref: req.Ref, Task: cmp.Or(req.Task, "deploy"),
		Environment: cmp.Or(req.Environment, "production"), Description: req.Description, Payload: req.Payload,
		Creator: tokenUser, CreatedAt: c.now, UpdatedAt: c.now,
	}
	s.deployments = append(s.deployments, d)
	return created(s.deploymentJSON(d))
}

// failingContexts lists the CI contexts on sha that are not successful, as GitHub verifies them
// before creating a deployment: every context when required is nil, only those named otherwise
// (a required context that never reported counts as failing).
func (s *Server) failingContexts(sha string, required *[]string) []object {
	states := map[string]string{}
	for _, run := range s.checkRunsOf(sha) {
		states[run.name] = run.status
		if run.status == "completed" {
			states[run.name] = run.conclusion
		}
	}
	for _, status := range s.latestStatuses(sha) {
		states[status.context] = status.state
	}
	names := make([]string, 0, len(states))
	if required != nil {
		names = *required
	} else {
		for name := range states {
			names = append(names, name)
		}
		slices.Sort(names)
	}
	var failing []object
	for _, name := range names {
		if state := states[name]; state != "success" && state != "neutral" && state != "skipped" {
			failing = append(failing, object{"context": name, "state": cmp.Or(state, "missing")})
		}
	}
	return failing
}

func (s *Server) listDeploymentStatuses(c *call) reply {
	d, found := s.deployment(c)
	if !found {
		return notFound()
	}
	return list(s, c, newestFirst(d.Statuses), func(st DeploymentStatus) object { return s.deploymentStatusJSON(d, st) })
}

func (s *Server) createDeploymentStatus(c *call) reply {
	d, found := s.deployment(c)
	if !found {
		return notFound()
	}
	var req struct {
		State          string `json:"state"`
		TargetURL      string `json:"target_url"`
		LogURL         string `json:"log_url"`
		Description    string `json:"description"`
		Environment    string `json:"environment"`
		EnvironmentURL string `json:"environment_url"`
	}
	if answer, ok := decode(c, &req); !ok {
		return answer
	}
	status := s.addDeploymentStatus(d, DeploymentStatus{
		State: req.State, Description: req.Description, Environment: cmp.Or(req.Environment, d.Environment),
		LogURL: cmp.Or(req.LogURL, req.TargetURL), EnvironmentURL: req.EnvironmentURL, Creator: tokenUser,
	}, c.now)
	return created(s.deploymentStatusJSON(d, status))
}

func (st *state) addDeploymentStatus(d *Deployment, status DeploymentStatus, at time.Time) DeploymentStatus {
	status.ID = st.newID()
	status.CreatedAt = at
	d.Statuses = append(d.Statuses, status)
	d.UpdatedAt = at
	return status
}
