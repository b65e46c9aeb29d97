package fakegithub

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"time"
)

// object is a JSON object as GitHub answers it. Responses are built as maps because GitHub's
// objects carry dozens of required URL fields that nothing in the fake reads.
type object = map[string]any

// The fake's HTML links look like github.com's, so that links the bot posts read naturally.
const htmlRoot = "https://github.com"

func marshal(body any) ([]byte, error) {
	if raw, ok := body.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(body)
}

func timestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func nodeID(kind string, id any) string {
	return kind + "_" + base64.RawURLEncoding.EncodeToString(fmt.Append(nil, id))
}

// apiError is GitHub's error body.
func apiError(status int, message string) reply {
	return reply{status: status, body: object{
		"message":           message,
		"documentation_url": "https://docs.github.com/rest",
		"status":            fmt.Sprint(status),
	}}
}

// validationFailed is GitHub's 422 naming the field at fault.
func validationFailed(resource, field, code, message string) reply {
	problem := object{"resource": resource, "field": field, "code": code}
	if message != "" {
		problem["message"] = message
	}
	return reply{status: http.StatusUnprocessableEntity, body: object{
		"message":           "Validation Failed",
		"errors":            []object{problem},
		"documentation_url": "https://docs.github.com/rest",
		"status":            "422",
	}}
}

// withETag answers 304 when the client already holds this exact body, and otherwise adds the
// body's ETag.
func withETag(r *http.Request, answer reply) reply {
	data, err := marshal(answer.body)
	if err != nil {
		return apiError(http.StatusInternalServerError, "encoding the response: "+err.Error())
	}
	sum := sha256.Sum256(data)
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	header := answer.header.Clone()
	if header == nil {
		header = http.Header{}
	}
	header.Set("ETag", etag)
	for _, candidate := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if c := strings.TrimSpace(candidate); c == etag || c == strings.TrimPrefix(etag, "W/") {
			return reply{status: http.StatusNotModified, header: header}
		}
	}
	return reply{status: answer.status, body: json.RawMessage(data), header: header}
}

func (s *Server) apiURL() string  { return strings.TrimSuffix(s.baseURL, "/") }
func (s *Server) repoURL() string { return s.apiURL() + "/repos/" + s.owner + "/" + s.name }
func (s *Server) htmlURL() string { return htmlRoot + "/" + s.owner + "/" + s.name }

func userID(login string) int64 {
	h := fnv.New32a()
	h.Write([]byte(login))
	return int64(h.Sum32()%9_000_000) + 1_000_000
}

func (s *Server) userJSON(login string) object {
	if login == "" {
		return nil
	}
	url := s.apiURL() + "/users/" + login
	kind := "User"
	if strings.HasSuffix(login, "[bot]") {
		kind = "Bot"
	}
	id := userID(login)
	return object{
		"login": login, "id": id, "node_id": nodeID("U", id), "type": kind, "site_admin": false,
		"avatar_url": fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", id), "gravatar_id": "",
		"url": url, "html_url": htmlRoot + "/" + login,
		"followers_url": url + "/followers", "following_url": url + "/following{/other_user}",
		"gists_url": url + "/gists{/gist_id}", "starred_url": url + "/starred{/owner}{/repo}",
		"subscriptions_url": url + "/subscriptions", "organizations_url": url + "/orgs",
		"repos_url": url + "/repos", "events_url": url + "/events{/privacy}",
		"received_events_url": url + "/received_events",
	}
}

// repositoryJSON satisfies GitHub's full-repository schema, and with it the smaller repository
// and minimal-repository ones.
func (s *Server) repositoryJSON() object {
	url := s.repoURL()
	repo := object{
		"id": 640_000_001, "node_id": nodeID("R", 640_000_001), "name": s.name, "full_name": s.owner + "/" + s.name,
		"owner": s.userJSON(s.owner), "private": true, "fork": false, "archived": false, "disabled": false,
		"description": "Analytics dashboards and reports", "homepage": nil, "language": "Go", "mirror_url": nil,
		"license": nil, "default_branch": "main", "visibility": "private",
		"html_url": s.htmlURL(), "url": url, "clone_url": s.htmlURL() + ".git",
		"git_url": "git://github.com/" + s.owner + "/" + s.name + ".git",
		"ssh_url": "git@github.com:" + s.owner + "/" + s.name + ".git", "svn_url": s.htmlURL(),
		"has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false, "has_downloads": true,
		"has_discussions": false, "forks": 0, "forks_count": 0, "open_issues": 0, "open_issues_count": 0,
		"size": 2048, "stargazers_count": 0, "watchers": 0, "watchers_count": 0, "network_count": 0,
		"subscribers_count": 4, "created_at": "2023-03-01T09:00:00Z", "updated_at": "2023-03-01T09:00:00Z",
		"pushed_at": "2023-03-01T09:00:00Z",
	}
	for name, suffix := range map[string]string{
		"archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
		"blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
		"collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
		"commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
		"contents_url": "/contents/{+path}", "contributors_url": "/contributors",
		"deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
		"forks_url": "/forks", "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}",
		"git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}",
		"issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}",
		"labels_url": "/labels{/name}", "languages_url": "/languages", "merges_url": "/merges",
		"milestones_url": "/milestones{/number}", "notifications_url": "/notifications{?since,all,participating}",
		"pulls_url": "/pulls{/number}", "releases_url": "/releases{/id}", "stargazers_url": "/stargazers",
		"statuses_url": "/statuses/{sha}", "subscribers_url": "/subscribers", "subscription_url": "/subscription",
		"tags_url": "/tags", "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
	} {
		repo[name] = url + suffix
	}
	return repo
}

func (s *Server) gitRefJSON(name, sha string) object {
	kind := "commit"
	objectURL := s.repoURL() + "/git/commits/" + sha
	if _, ok := s.tagObjects[sha]; ok {
		kind = "tag"
		objectURL = s.repoURL() + "/git/tags/" + sha
	}
	return object{
		"ref": name, "node_id": nodeID("REF", name), "url": s.repoURL() + "/git/" + name,
		"object": object{"type": kind, "sha": sha, "url": objectURL},
	}
}

func (s *Server) tagObjectJSON(t *tagObject) object {
	return object{
		"sha": t.sha, "node_id": nodeID("TAG", t.sha), "url": s.repoURL() + "/git/tags/" + t.sha,
		"tag": t.tag, "message": t.message,
		"tagger":       object{"name": t.taggerName, "email": t.taggerEmail, "date": timestamp(t.date)},
		"object":       object{"type": "commit", "sha": t.object, "url": s.repoURL() + "/git/commits/" + t.object},
		"verification": unsigned(),
	}
}

func unsigned() object {
	return object{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil, "verified_at": nil}
}

func (c *commit) gitUser() object {
	name, email := gitIdentity(c.author)
	return object{"name": name, "email": email, "date": timestamp(c.date)}
}

// gitCommitJSON is the git-commit schema (GET /git/commits/{sha}).
func (s *Server) gitCommitJSON(c *commit) object {
	return object{
		"sha": c.sha, "node_id": nodeID("C", c.sha), "url": s.repoURL() + "/git/commits/" + c.sha,
		"html_url": s.htmlURL() + "/commit/" + c.sha, "author": c.gitUser(), "committer": c.gitUser(),
		"message": c.message, "tree": object{"sha": c.tree, "url": s.repoURL() + "/git/trees/" + c.tree},
		"parents": s.parentsJSON(c, "/git/commits/"), "verification": unsigned(),
	}
}

// parentsJSON lists c's parents, their API URLs under resource ("/commits/" or "/git/commits/").
func (s *Server) parentsJSON(c *commit, resource string) []object {
	parents := make([]object, len(c.parents))
	for i, p := range c.parents {
		parents[i] = object{"sha": p, "url": s.repoURL() + resource + p, "html_url": s.htmlURL() + "/commit/" + p}
	}
	return parents
}

// commitJSON is the commit schema (GET /commits/{ref}, compare, pull request commits).
func (s *Server) commitJSON(c *commit) object {
	return object{
		"sha": c.sha, "node_id": nodeID("C", c.sha), "url": s.repoURL() + "/commits/" + c.sha,
		"html_url": s.htmlURL() + "/commit/" + c.sha, "comments_url": s.repoURL() + "/commits/" + c.sha + "/comments",
		"commit": object{
			"url": s.repoURL() + "/git/commits/" + c.sha, "author": c.gitUser(), "committer": c.gitUser(),
			"message": c.message, "comment_count": 0, "verification": unsigned(),
			"tree": object{"sha": c.tree, "url": s.repoURL() + "/git/trees/" + c.tree},
		},
		"author": s.userJSON(c.author), "committer": s.userJSON(c.author), "parents": s.parentsJSON(c, "/commits/"),
	}
}

func (s *Server) pullJSON(pr *PullRequest) object {
	url := fmt.Sprintf("%s/pulls/%d", s.repoURL(), pr.Number)
	issueURL := fmt.Sprintf("%s/issues/%d", s.repoURL(), pr.Number)
	html := fmt.Sprintf("%s/pull/%d", s.htmlURL(), pr.Number)
	side := func(branch, sha string) object {
		return object{
			"label": s.owner + ":" + branch, "ref": branch, "sha": sha,
			"user": s.userJSON(s.owner), "repo": s.repositoryJSON(),
		}
	}
	baseSHA := s.refs["refs/heads/"+pr.Base]
	commits := len(s.between(baseSHA, pr.HeadSHA))
	mergeableState := "clean"
	if !pr.Mergeable {
		mergeableState = "dirty"
	}
	var mergedBy, mergedAt any
	if pr.Merged {
		mergedBy, mergedAt = s.userJSON(pr.MergedBy), timestamp(pr.ClosedAt)
	}
	return object{
		"id": pr.id, "node_id": nodeID("PR", pr.id), "number": pr.Number, "state": pr.State, "locked": false,
		"title": pr.Title, "body": pr.Body, "user": s.userJSON(pr.Author), "draft": false,
		"url": url, "html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issueURL,
		"commits_url": url + "/commits", "review_comments_url": url + "/comments",
		"review_comment_url": s.repoURL() + "/pulls/comments{/number}", "comments_url": issueURL + "/comments",
		"statuses_url": s.repoURL() + "/statuses/" + pr.HeadSHA,
		"head":         side(pr.Head, pr.HeadSHA), "base": side(pr.Base, baseSHA),
		"_links": object{
			"self": link(url), "html": link(html), "issue": link(issueURL), "comments": link(issueURL + "/comments"),
			"review_comments": link(url + "/comments"), "review_comment": link(s.repoURL() + "/pulls/comments{/number}"),
			"commits": link(url + "/commits"), "statuses": link(s.repoURL() + "/statuses/" + pr.HeadSHA),
		},
		"labels": []object{}, "assignee": nil, "assignees": []object{}, "requested_reviewers": []object{},
		"requested_teams": []object{}, "milestone": nil, "auto_merge": nil, "active_lock_reason": nil,
		"author_association": "MEMBER", "created_at": timestamp(pr.CreatedAt), "updated_at": timestamp(pr.UpdatedAt),
		"closed_at": timestamp(pr.ClosedAt), "merged_at": mergedAt, "merge_commit_sha": nullable(pr.MergeCommitSHA),
		"merged": pr.Merged, "merged_by": mergedBy, "mergeable": pr.State == "open" && pr.Mergeable,
		"mergeable_state": mergeableState, "rebaseable": pr.Mergeable, "maintainer_can_modify": false,
		"comments": 0, "review_comments": 0, "commits": commits, "additions": 10 * commits,
		"deletions": 2 * commits, "changed_files": commits,
	}
}

// nullable is GitHub's null for an empty string.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func link(href string) object { return object{"href": href} }

func (s *Server) reviewJSON(pr *PullRequest, r Review) object {
	pullURL := fmt.Sprintf("%s/pulls/%d", s.repoURL(), pr.Number)
	html := fmt.Sprintf("%s/pull/%d#pullrequestreview-%d", s.htmlURL(), pr.Number, r.ID)
	return object{
		"id": r.ID, "node_id": nodeID("PRR", r.ID), "user": s.userJSON(r.Login), "body": "", "state": r.State,
		"commit_id": r.CommitID, "html_url": html, "pull_request_url": pullURL,
		"_links":             object{"html": link(html), "pull_request": link(pullURL)},
		"author_association": "MEMBER", "submitted_at": timestamp(r.SubmittedAt),
	}
}

func (s *Server) releaseJSON(r *Release) object {
	url := fmt.Sprintf("%s/releases/%d", s.repoURL(), r.ID)
	return object{
		"id": r.ID, "node_id": nodeID("RE", r.ID), "tag_name": r.TagName, "target_commitish": r.TargetCommitish,
		"name": r.Name, "body": r.Body, "draft": r.Draft, "prerelease": r.Prerelease, "author": s.userJSON(r.Author),
		"created_at": timestamp(r.CreatedAt), "published_at": timestamp(r.PublishedAt),
		"url": url, "html_url": s.htmlURL() + "/releases/tag/" + r.TagName, "assets_url": url + "/assets",
		"upload_url":  strings.Replace(url, "/api/v3/", "/api/uploads/", 1) + "/assets{?name,label}",
		"tarball_url": s.repoURL() + "/tarball/" + r.TagName, "zipball_url": s.repoURL() + "/zipball/" + r.TagName,
		"assets": []object{},
	}
}

// actionsApp is the GitHub App that check runs and workflow runs come from.
func (s *Server) actionsApp() object {
	return object{
		"id": 15368, "slug": "github-actions", "node_id": nodeID("A", 15368), "name": "GitHub Actions",
		"owner": s.userJSON("github"), "description": "Automate your workflow from idea to production",
		"external_url": "https://help.github.com/en/actions", "html_url": htmlRoot + "/apps/github-actions",
		"created_at": "2018-07-30T09:30:17Z", "updated_at": "2024-04-10T20:33:16Z",
		"permissions": object{"checks": "write", "contents": "write", "deployments": "write", "statuses": "write"},
		"events":      []string{"check_run", "push", "workflow_dispatch"},
	}
}

func (s *Server) checkRunJSON(c *checkRun) object {
	url := fmt.Sprintf("%s/check-runs/%d", s.repoURL(), c.id)
	html := fmt.Sprintf("%s/runs/%d", s.htmlURL(), c.id)
	return object{
		"id": c.id, "node_id": nodeID("CR", c.id), "head_sha": c.sha, "name": c.name, "external_id": "",
		"status": c.status, "conclusion": nullable(c.conclusion), "started_at": timestamp(c.startedAt),
		"completed_at": timestamp(c.completedAt), "url": url, "html_url": html, "details_url": html,
		"check_suite": object{"id": c.id + 500_000}, "app": s.actionsApp(), "pull_requests": []object{},
		"output": object{
			"title": nil, "summary": nil, "text": nil, "annotations_count": 0, "annotations_url": url + "/annotations",
		},
	}
}

func (s *Server) statusJSON(st *commitStatus) object {
	creator := s.userJSON(st.creator)
	return object{
		"id": st.id, "node_id": nodeID("SC", st.id), "state": st.state, "context": st.context,
		"description": nullable(st.description), "target_url": nullable(st.targetURL), "avatar_url": creator["avatar_url"],
		"url": s.repoURL() + "/statuses/" + st.sha, "creator": creator,
		"created_at": timestamp(st.createdAt), "updated_at": timestamp(st.createdAt),
	}
}

func (s *Server) deploymentJSON(d *Deployment) object {
	url := fmt.Sprintf("%s/deployments/%d", s.repoURL(), d.ID)
	payload := d.Payload
	if payload == nil {
		payload = object{}
	}
	return object{
		"id": d.ID, "node_id": nodeID("DE", d.ID), "sha": d.SHA, "ref": d.Ref, "task": d.Task,
		"environment": d.Environment, "original_environment": d.Environment, "payload": payload,
		"description": nullable(d.Description), "creator": s.userJSON(d.Creator), "created_at": timestamp(d.CreatedAt),
		"updated_at": timestamp(d.UpdatedAt), "statuses_url": url + "/statuses", "repository_url": s.repoURL(),
		"url": url, "production_environment": d.Environment == "production", "transient_environment": false,
	}
}

func (s *Server) deploymentStatusJSON(d *Deployment, st DeploymentStatus) object {
	deploymentURL := fmt.Sprintf("%s/deployments/%d", s.repoURL(), d.ID)
	return object{
		"id": st.ID, "node_id": nodeID("DES", st.ID), "state": st.State, "description": st.Description,
		"environment": st.Environment, "creator": s.userJSON(st.Creator), "target_url": st.LogURL,
		"log_url": st.LogURL, "environment_url": st.EnvironmentURL, "deployment_url": deploymentURL,
		"repository_url": s.repoURL(), "url": fmt.Sprintf("%s/statuses/%d", deploymentURL, st.ID),
		"created_at": timestamp(st.CreatedAt), "updated_at": timestamp(st.CreatedAt),
	}
}
