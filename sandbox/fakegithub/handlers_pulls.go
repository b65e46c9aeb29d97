package fakegithub

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

func (s *Server) pull(c *call) (*PullRequest, bool) {
	return byID(c, "number", s.pulls, func(pr *PullRequest) int64 { return int64(pr.Number) })
}

func (s *Server) listPulls(c *call) reply {
	state := cmp.Or(c.query("state"), "open")
	head := c.query("head")
	var matching []*PullRequest
	for _, pr := range slices.Backward(s.pulls) {
		if (state == "all" || pr.State == state) &&
			(head == "" || head == s.owner+":"+pr.Head) &&
			(c.query("base") == "" || c.query("base") == pr.Base) {
			matching = append(matching, pr)
		}
	}
	return list(s, c, matching, s.pullJSON)
}

func (s *Server) createPull(c *call) reply {
	var req struct{ Title, Head, Base, Body string }
	if answer, ok := decode(c, &req); !ok {
		return answer
	}
	head := strings.TrimPrefix(req.Head, s.owner+":")
	headSHA, headExists := s.refs["refs/heads/"+head]
	baseSHA, baseExists := s.refs["refs/heads/"+req.Base]
	switch {
	case !headExists:
		return validationFailed("PullRequest", "head", "invalid", "")
	case !baseExists:
		return validationFailed("PullRequest", "base", "invalid", "")
	case len(s.between(baseSHA, headSHA)) == 0:
		return validationFailed("PullRequest", "", "custom", fmt.Sprintf("No commits between %s and %s", req.Base, head))
	}
	for _, pr := range s.pulls {
		if pr.State == "open" && pr.Head == head && pr.Base == req.Base {
			return validationFailed("PullRequest", "", "custom",
				fmt.Sprintf("A pull request already exists for %s:%s.", s.owner, head))
		}
	}
	pr := s.addPull(req.Title, req.Body, tokenUser, head, req.Base, c.now)
	if s.opts.Reviewer != "" {
		pr.Reviews = append(pr.Reviews, Review{
			ID: s.newID(), Login: s.opts.Reviewer, State: "APPROVED", CommitID: pr.HeadSHA, SubmittedAt: c.now,
		})
	}
	return created(s.pullJSON(pr))
}

// addPull opens a pull request from head into base.
func (st *state) addPull(title, body, author, head, base string, now time.Time) *PullRequest {
	number := 1
	for _, pr := range st.pulls {
		number = max(number, pr.Number+1)
	}
	pr := &PullRequest{
		id: st.newID(), Number: number, Title: title, Body: body, Author: author, Head: head, Base: base,
		HeadSHA: st.refs["refs/heads/"+head], State: "open", Mergeable: true, CreatedAt: now, UpdatedAt: now,
	}
	st.pulls = append(st.pulls, pr)
	return pr
}

func (s *Server) getPull(c *call) reply {
	pr, found := s.pull(c)
	if !found {
		return notFound()
	}
	return ok(s.pullJSON(pr))
}

func (s *Server) listPullCommits(c *call) reply {
	pr, found := s.pull(c)
	if !found {
		return notFound()
	}
	return list(s, c, s.between(s.refs["refs/heads/"+pr.Base], pr.HeadSHA), s.commitJSON)
}

func (s *Server) listReviews(c *call) reply {
	pr, found := s.pull(c)
	if !found {
		return notFound()
	}
	return list(s, c, pr.Reviews, func(r Review) object { return s.reviewJSON(pr, r) })
}

func (s *Server) isMerged(c *call) reply {
	pr, found := s.pull(c)
	if !found || !pr.Merged {
		return notFound()
	}
	return reply{status: http.StatusNoContent}
}

func (s *Server) mergePull(c *call) reply {
	pr, found := s.pull(c)
	if !found {
		return notFound()
	}
	var req struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if answer, ok := decode(c, &req); !ok && len(c.body) > 0 {
		return answer
	}
	if pr.State != "open" || !pr.Mergeable {
		return apiError(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
	}
	if req.SHA != "" && req.SHA != pr.HeadSHA {
		return apiError(http.StatusConflict, "Head branch was modified. Review and try the merge again.")
	}
	method := cmp.Or(req.MergeMethod, "merge")
	head := s.merge(pr, method, req.CommitTitle, req.CommitMessage, c.now)
	if s.opts.Teammate && pr.Base == "main" && strings.HasPrefix(pr.Head, "release/") {
		s.landNextFeature(c.now)
	}
	return ok(object{"sha": head, "merged": true, "message": "Pull Request successfully merged"})
}

// nextFeatures are what the teammate lands on develop after each release, in turn.
var nextFeatures = []struct{ title, author string }{
	{"Add CSV export to reports", "dave"},
	{"Speed up the ingestion batch job", "carol"},
	{"Show data freshness on dashboards", "alice"},
	{"Retry failed webhook deliveries", "bob"},
}

// landNextFeature is the teammate's next change: a commit on develop with green CI, whose
// deployment to development has just succeeded.
func (s *Server) landNextFeature(now time.Time) {
	f := nextFeatures[s.featuresLanded%len(nextFeatures)]
	s.featuresLanded++
	c := s.newCommit([]string{s.refs["refs/heads/develop"]}, f.title, f.author, now.Add(-5*time.Minute))
	s.setRef("refs/heads/develop", c.sha)
	s.runCI(c.sha, now.Add(-5*time.Minute))
	s.seedDeployment(c.sha, "develop", "development", now.Add(-2*time.Minute))
}

// merge lands pr on its base branch the way method does on GitHub, closes it, runs CI on the new
// base head and returns that head.
func (s *Server) merge(pr *PullRequest, method, title, message string, now time.Time) string {
	baseRef := "refs/heads/" + pr.Base
	baseSHA := s.refs[baseRef]
	commits := s.between(baseSHA, pr.HeadSHA)
	var head string
	switch method {
	case "squash":
		title = cmp.Or(title, fmt.Sprintf("%s (#%d)", pr.Title, pr.Number))
		if message == "" {
			var lines []string
			for _, c := range commits {
				lines = append(lines, "* "+c.message)
			}
			message = strings.Join(lines, "\n\n")
		}
		head = s.newCommit([]string{baseSHA}, joinMessage(title, message), pr.Author, now).sha
	case "rebase":
		head = baseSHA
		for _, c := range commits {
			head = s.newCommit([]string{head}, c.message, c.author, now).sha
		}
	default:
		title = cmp.Or(title, fmt.Sprintf("Merge pull request #%d from %s/%s", pr.Number, s.owner, pr.Head))
		message = cmp.Or(message, pr.Title)
		head = s.newCommit([]string{baseSHA, pr.HeadSHA}, joinMessage(title, message), tokenUser, now).sha
	}
	s.setRef(baseRef, head)
	s.runCI(head, now)
	pr.State, pr.Merged, pr.MergedBy, pr.MergeCommitSHA = "closed", true, tokenUser, head
	pr.ClosedAt, pr.UpdatedAt = now, now
	s.merges = append(s.merges, Merge{PullRequest: pr.Number, Method: method, Base: pr.Base, SHA: head, At: now})
	return head
}

func joinMessage(title, body string) string {
	if body == "" {
		return title
	}
	return title + "\n\n" + body
}
