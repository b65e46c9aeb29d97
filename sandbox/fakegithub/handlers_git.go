package fakegithub

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tokenUser is the login the token acts as: merges, tags, releases and deployments made through
// the API are attributed to it.
const tokenUser = "opsbot"

// defaultBranch is the repository's default branch.
const defaultBranch = "main"

func decode(c *call, v any) (reply, bool) {
	if err := json.Unmarshal(c.body, v); err != nil {
		return apiError(http.StatusBadRequest, "Problems parsing JSON"), false
	}
	return reply{}, true
}

func ok(body any) reply      { return reply{status: http.StatusOK, body: body} }
func created(body any) reply { return reply{status: http.StatusCreated, body: body} }

func notFound() reply { return apiError(http.StatusNotFound, "Not Found") }

// paginate cuts items to the page the request asks for (page, per_page: 30 by default, at most
// 100) and adds GitHub's Link header for the other pages.
func paginate[T any](s *Server, c *call, items []T) ([]T, http.Header) {
	perPage, err := strconv.Atoi(c.query("per_page"))
	if err != nil || perPage < 1 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, err := strconv.Atoi(c.query("page"))
	if err != nil || page < 1 {
		page = 1
	}
	last := max(1, (len(items)+perPage-1)/perPage)
	from, to := min((page-1)*perPage, len(items)), min(page*perPage, len(items))

	pageURL := func(n int) string {
		query := c.r.URL.Query()
		query.Set("page", strconv.Itoa(n))
		query.Set("per_page", strconv.Itoa(perPage))
		return s.apiURL() + c.r.URL.EscapedPath() + "?" + query.Encode()
	}
	var links []string
	if page < last {
		links = append(links, fmt.Sprintf(`<%s>; rel="next"`, pageURL(page+1)), fmt.Sprintf(`<%s>; rel="last"`, pageURL(last)))
	}
	if page > 1 {
		links = append(links, fmt.Sprintf(`<%s>; rel="first"`, pageURL(1)), fmt.Sprintf(`<%s>; rel="prev"`, pageURL(page-1)))
	}
	header := http.Header{}
	if len(links) > 0 {
		header.Set("Link", strings.Join(links, ", "))
	}
	return items[from:to], header
}

// byID finds the item whose id the path parameter name holds.
func byID[T any](c *call, name string, items []*T, idOf func(*T) int64) (*T, bool) {
	id, err := strconv.ParseInt(c.params[name], 10, 64)
	if err != nil {
		return nil, false
	}
	i := slices.IndexFunc(items, func(item *T) bool { return idOf(item) == id })
	if i < 0 {
		return nil, false
	}
	return items[i], true
}

// newestFirst returns a reversed copy of items, which the fake keeps oldest first.
func newestFirst[T any](items []T) []T {
	reversed := slices.Clone(items)
	slices.Reverse(reversed)
	return reversed
}

// list answers a JSON array, paginated.
func list[T any](s *Server, c *call, items []T, toJSON func(T) object) reply {
	items, header := paginate(s, c, items)
	body := make([]object, len(items))
	for i, item := range items {
		body[i] = toJSON(item)
	}
	return reply{status: http.StatusOK, body: body, header: header}
}

func (s *Server) getRepository(c *call) reply {
	repo := s.repositoryJSON()
	repo["permissions"] = object{"admin": false, "maintain": false, "push": true, "triage": true, "pull": true}
	return ok(repo)
}

func (s *Server) getBranch(c *call) reply {
	name := c.params["branch"]
	sha, found := s.refs["refs/heads/"+name]
	if !found {
		return apiError(http.StatusNotFound, "Branch not found")
	}
	url := s.repoURL() + "/branches/" + name
	protected := name == defaultBranch
	return ok(object{
		"name": name, "commit": s.commitJSON(s.commits[sha]), "protected": protected,
		"protection":     object{"enabled": protected},
		"protection_url": url + "/protection",
		"_links":         object{"self": url, "html": s.htmlURL() + "/tree/" + name},
	})
}

func (s *Server) getRef(c *call) reply {
	name := "refs/" + c.params["ref"]
	sha, found := s.refs[name]
	if !found {
		return notFound()
	}
	return ok(s.gitRefJSON(name, sha))
}

func (s *Server) listMatchingRefs(c *call) reply {
	return list(s, c, s.refNames("refs/"+c.params["ref"]), func(name string) object {
		return s.gitRefJSON(name, s.refs[name])
	})
}

func (s *Server) createRef(c *call) reply {
	var req struct{ Ref, SHA string }
	if answer, ok := decode(c, &req); !ok {
		return answer
	}
	if !strings.HasPrefix(req.Ref, "refs/") || strings.Count(req.Ref, "/") < 2 || strings.HasSuffix(req.Ref, "/") {
		return apiError(http.StatusUnprocessableEntity, "Reference name is invalid")
	}
	if _, exists := s.refs[req.Ref]; exists {
		return apiError(http.StatusUnprocessableEntity, "Reference already exists")
	}
	if !s.isObject(req.SHA) {
		return apiError(http.StatusUnprocessableEntity, "Object does not exist")
	}
	s.setRef(req.Ref, req.SHA)
	if tag, isTag := strings.CutPrefix(req.Ref, "refs/tags/"); isTag {
		s.tagPushed(tag, s.peel(req.SHA), c.now)
	}
	return created(s.gitRefJSON(req.Ref, req.SHA))
}

func (s *Server) isObject(sha string) bool {
	_, isCommit := s.commits[sha]
	_, isTag := s.tagObjects[sha]
	return isCommit || isTag
}

func (s *Server) updateRef(c *call) reply {
	name := "refs/" + c.params["ref"]
	var req struct {
		SHA   string
		Force bool
	}
	if answer, ok := decode(c, &req); !ok {
		return answer
	}
	current, exists := s.refs[name]
	if !exists {
		return apiError(http.StatusUnprocessableEntity, "Reference does not exist")
	}
	if !s.isObject(req.SHA) {
		return apiError(http.StatusUnprocessableEntity, "Object does not exist")
	}
	if !req.Force && !s.ancestors(s.peel(req.SHA))[s.peel(current)] {
		return apiError(http.StatusUnprocessableEntity, "Update is not a fast forward")
	}
	s.setRef(name, req.SHA)
	return ok(s.gitRefJSON(name, req.SHA))
}

func (s *Server) deleteRef(c *call) reply {
	name := "refs/" + c.params["ref"]
	if _, exists := s.refs[name]; !exists {
		return apiError(http.StatusUnprocessableEntity, "Reference does not exist")
	}
	delete(s.refs, name)
	return reply{status: http.StatusNoContent}
}

func (s *Server) createTagObject(c *call) reply {
	var req struct {
		Tag, Message, Object, Type string
		Tagger                     *struct{ Name, Email string }
	}
	if answer, ok := decode(c, &req); !ok {
		return answer
	}
	if _, isCommit := s.commits[req.Object]; !isCommit || req.Type != "commit" {
		return apiError(http.StatusUnprocessableEntity, "Object does not exist")
	}
	name, email := gitIdentity(tokenUser)
	if req.Tagger != nil {
		name, email = req.Tagger.Name, req.Tagger.Email
	}
	return created(s.tagObjectJSON(s.newTagObject(req.Tag, req.Message, req.Object, name, email, c.now)))
}

func (s *Server) getTagObject(c *call) reply {
	t, found := s.tagObjects[c.params["sha"]]
	if !found {
		return notFound()
	}
	return ok(s.tagObjectJSON(t))
}

func (s *Server) getGitCommit(c *call) reply {
	commit, found := s.commits[c.params["sha"]]
	if !found {
		return notFound()
	}
	return ok(s.gitCommitJSON(commit))
}

func (s *Server) listCommits(c *call) reply {
	from := cmp.Or(c.query("sha"), defaultBranch)
	head, found := s.resolve(from)
	if !found {
		return notFound()
	}
	commits := s.between("", head.sha)
	slices.Reverse(commits)
	return list(s, c, commits, s.commitJSON)
}

func (s *Server) getCommit(c *call) reply {
	commit, found := s.resolve(c.params["ref"])
	if !found {
		return apiError(http.StatusUnprocessableEntity, "No commit found for SHA: "+c.params["ref"])
	}
	return ok(s.commitJSON(commit))
}

func (s *Server) compare(c *call) reply {
	baseName, headName, found := strings.Cut(c.params["basehead"], "...")
	if !found {
		return notFound()
	}
	base, baseFound := s.resolve(baseName)
	head, headFound := s.resolve(headName)
	if !baseFound || !headFound {
		return notFound()
	}
	mergeBase, related := s.mergeBase(base.sha, head.sha)
	if !related {
		return apiError(http.StatusNotFound, fmt.Sprintf("No common ancestor between %s and %s.", baseName, headName))
	}
	ahead, behind := s.between(base.sha, head.sha), s.between(head.sha, base.sha)
	status := "diverged"
	switch {
	case len(ahead) == 0 && len(behind) == 0:
		status = "identical"
	case len(behind) == 0:
		status = "ahead"
	case len(ahead) == 0:
		status = "behind"
	}
	commits := make([]object, len(ahead))
	for i, commit := range ahead {
		commits[i] = s.commitJSON(commit)
	}
	basehead := baseName + "..." + headName
	return ok(object{
		"url": s.repoURL() + "/compare/" + basehead, "html_url": s.htmlURL() + "/compare/" + basehead,
		"permalink_url": s.htmlURL() + "/compare/" + s.owner + ":" + base.sha + "..." + s.owner + ":" + head.sha,
		"diff_url":      s.htmlURL() + "/compare/" + basehead + ".diff",
		"patch_url":     s.htmlURL() + "/compare/" + basehead + ".patch",
		"base_commit":   s.commitJSON(base), "merge_base_commit": s.commitJSON(mergeBase),
		"status": status, "ahead_by": len(ahead), "behind_by": len(behind), "total_commits": len(ahead),
		"commits": commits, "files": []object{},
	})
}

func (s *Server) listTags(c *call) reply {
	names := s.refNames("refs/tags/")
	dateOf := func(name string) time.Time { return s.commits[s.peel(s.refs[name])].date }
	slices.SortStableFunc(names, func(a, b string) int { return dateOf(b).Compare(dateOf(a)) })
	return list(s, c, names, func(ref string) object {
		name := strings.TrimPrefix(ref, "refs/tags/")
		sha := s.peel(s.refs[ref])
		return object{
			"name": name, "node_id": nodeID("REF", ref),
			"commit":      object{"sha": sha, "url": s.repoURL() + "/commits/" + sha},
			"zipball_url": s.repoURL() + "/zipball/refs/tags/" + name,
			"tarball_url": s.repoURL() + "/tarball/refs/tags/" + name,
		}
	})
}
