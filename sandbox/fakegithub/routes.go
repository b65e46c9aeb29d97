package fakegithub

import (
	"net/http"
	"net/url"
	"strings"
)

// route is one endpoint. In its pattern, {name} matches one path segment and {name...} one or
// more: go-github sends refs such as heads/release/v1.0.0 with their slashes, and a literal tail
// may follow (".../commits/{ref...}/status").
type route struct {
	method  string
	pattern string
	handle  func(*Server, *call) reply
}

func (rt *route) name() string { return rt.method + " " + rt.pattern }

// routeTable lists the endpoints; the first match wins, so literal paths come before the
// parameters that would swallow them.
func routeTable() []route {
	const repo = "/repos/{owner}/{repo}"
	return []route{
		{"GET", repo, (*Server).getRepository},
		{"GET", repo + "/branches/{branch...}", (*Server).getBranch},
		{"GET", repo + "/git/ref/{ref...}", (*Server).getRef},
		{"GET", repo + "/git/matching-refs/{ref...}", (*Server).listMatchingRefs},
		{"POST", repo + "/git/refs", (*Server).createRef},
		{"PATCH", repo + "/git/refs/{ref...}", (*Server).updateRef},
		{"DELETE", repo + "/git/refs/{ref...}", (*Server).deleteRef},
		{"POST", repo + "/git/tags", (*Server).createTagObject},
		{"GET", repo + "/git/tags/{sha}", (*Server).getTagObject},
		{"GET", repo + "/git/commits/{sha}", (*Server).getGitCommit},
		{"GET", repo + "/commits", (*Server).listCommits},
		{"GET", repo + "/commits/{ref...}/check-runs", (*Server).listCheckRuns},
		{"GET", repo + "/commits/{ref...}/status", (*Server).getCombinedStatus},
		{"GET", repo + "/commits/{ref...}/statuses", (*Server).listStatuses},
		{"GET", repo + "/commits/{ref...}", (*Server).getCommit},
		{"POST", repo + "/statuses/{sha...}", (*Server).createStatus},
		{"GET", repo + "/compare/{basehead...}", (*Server).compare},
		{"GET", repo + "/tags", (*Server).listTags},
		{"GET", repo + "/pulls", (*Server).listPulls},
		{"POST", repo + "/pulls", (*Server).createPull},
		{"GET", repo + "/pulls/{number}", (*Server).getPull},
		{"GET", repo + "/pulls/{number}/commits", (*Server).listPullCommits},
		{"GET", repo + "/pulls/{number}/reviews", (*Server).listReviews},
		{"GET", repo + "/pulls/{number}/merge", (*Server).isMerged},
		{"PUT", repo + "/pulls/{number}/merge", (*Server).mergePull},
		{"GET", repo + "/releases", (*Server).listReleases},
		{"POST", repo + "/releases", (*Server).createRelease},
		{"POST", repo + "/releases/generate-notes", (*Server).generateNotes},
		{"GET", repo + "/releases/latest", (*Server).getLatestRelease},
		{"GET", repo + "/releases/tags/{tag...}", (*Server).getReleaseByTag},
		{"GET", repo + "/releases/{id}", (*Server).getRelease},
		{"GET", repo + "/deployments", (*Server).listDeployments},
		{"POST", repo + "/deployments", (*Server).createDeployment},
		{"GET", repo + "/deployments/{id}", (*Server).getDeployment},
		{"GET", repo + "/deployments/{id}/statuses", (*Server).listDeploymentStatuses},
		{"POST", repo + "/deployments/{id}/statuses", (*Server).createDeploymentStatus},
		{"GET", repo + "/actions/workflows", (*Server).listWorkflows},
		{"GET", repo + "/actions/workflows/{workflow}", (*Server).getWorkflow},
		{"GET", repo + "/actions/workflows/{workflow}/runs", (*Server).listWorkflowRuns},
		{"POST", repo + "/actions/workflows/{workflow}/dispatches", (*Server).dispatchWorkflow},
		{"GET", repo + "/actions/runs", (*Server).listWorkflowRuns},
		{"GET", repo + "/actions/runs/{id}", (*Server).getWorkflowRun},
		{"GET", repo + "/actions/runs/{id}/jobs", (*Server).listJobs},
		{"POST", repo + "/actions/runs/{id}/cancel", (*Server).cancelWorkflowRun},
	}
}

// match finds the route for r and its path parameters, unescaped.
func (s *Server) match(r *http.Request) (*route, map[string]string) {
	path := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i := range s.routes {
		rt := &s.routes[i]
		if rt.method != r.Method {
			continue
		}
		if params, ok := matchPattern(strings.Split(strings.TrimPrefix(rt.pattern, "/"), "/"), path); ok {
			return rt, params
		}
	}
	return nil, nil
}

func matchPattern(pattern, path []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, p := range pattern {
		name, isParam := strings.CutPrefix(p, "{")
		name = strings.TrimSuffix(name, "}")
		rest, isMulti := strings.CutSuffix(name, "...")
		if isParam && isMulti {
			tail := len(pattern) - i - 1 // segments the pattern still needs after this one
			if len(path)-i-tail < 1 {
				return nil, false
			}
			tailParams, ok := matchPattern(pattern[i+1:], path[len(path)-tail:])
			if !ok {
				return nil, false
			}
			value, ok := unescapeSegments(path[i : len(path)-tail])
			if !ok {
				return nil, false
			}
			params[rest] = value
			for k, v := range tailParams {
				params[k] = v
			}
			return params, true
		}
		if i >= len(path) {
			return nil, false
		}
		segment, err := url.PathUnescape(path[i])
		if err != nil || segment == "" {
			return nil, false
		}
		if !isParam && segment != p {
			return nil, false
		}
		if isParam {
			params[name] = segment
		}
	}
	return params, len(path) == len(pattern)
}

// unescapeSegments joins a multi-segment parameter; only its last segment may be empty, as in
// a prefix such as heads/release/.
func unescapeSegments(segments []string) (string, bool) {
	joined, err := url.PathUnescape(strings.Join(segments, "/"))
	return joined, err == nil && joined != "" && !strings.HasPrefix(joined, "/") && !strings.Contains(joined, "//")
}
