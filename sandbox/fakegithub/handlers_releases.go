package fakegithub

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

func (s *Server) listReleases(c *call) reply {
	return list(s, c, newestFirst(s.releases), s.releaseJSON)
}

func (s *Server) getRelease(c *call) reply {
	r, found := byID(c, "id", s.releases, func(r *Release) int64 { return r.ID })
	if !found {
		return notFound()
	}
	return ok(s.releaseJSON(r))
}

func (s *Server) getReleaseByTag(c *call) reply {
	if r, found := s.releaseByTag(c.params["tag"]); found {
		return ok(s.releaseJSON(r))
	}
	return notFound()
}

func (s *Server) releaseByTag(tag string) (*Release, bool) {
	for _, r := range s.releases {
		if r.TagName == tag {
			return r, true
		}
	}
	return nil, false
}

func (s *Server) getLatestRelease(c *call) reply {
	if r, found := s.latestRelease(""); found {
		return ok(s.releaseJSON(r))
	}
	return notFound()
}

// latestRelease is the newest published, non-prerelease release other than the one for except.
func (s *Server) latestRelease(except string) (*Release, bool) {
	for _, r := range slices.Backward(s.releases) {
		if !r.Draft && !r.Prerelease && r.TagName != except {
			return r, true
		}
	}
	return nil, false
}

func (s *Server) createRelease(c *call) reply {
	var req struct {
		TagName              string `json:"tag_name"`
		TargetCommitish      string `json:"target_commitish"`
		Name                 string `json:"name"`
		Body                 string `json:"body"`
		Draft                bool   `json:"draft"`
		Prerelease           bool   `json:"prerelease"`
		GenerateReleaseNotes bool   `json:"generate_release_notes"`
	}
	if answer, ok := decode(c, &req); !ok {
		return answer
	}
	if _, exists := s.releaseByTag(req.TagName); exists {
		return validationFailed("Release", "tag_name", "already_exists", "")
	}
	target := cmp.Or(req.TargetCommitish, defaultBranch)
	if _, tagged := s.refs["refs/tags/"+req.TagName]; !tagged {
		commit, found := s.resolve(target)
		if !found {
			return validationFailed("Release", "target_commitish", "invalid", "")
		}
		// Publishing a release creates its missing tag, which counts as pushing it; a draft
		// leaves the tag for later.
		if !req.Draft {
			s.setRef("refs/tags/"+req.TagName, commit.sha)
			s.tagPushed(req.TagName, commit.sha, c.now)
		}
	}
	if req.GenerateReleaseNotes {
		notes := s.releaseNotes(req.TagName, target, "")
		req.Body = strings.TrimSpace(req.Body + "\n\n" + notes.body)
		req.Name = cmp.Or(req.Name, notes.name)
	}
	r := &Release{
		ID: s.newID(), TagName: req.TagName, TargetCommitish: target, Name: req.Name, Body: req.Body,
		Draft: req.Draft, Prerelease: req.Prerelease, Author: tokenUser, CreatedAt: c.now,
	}
	if !r.Draft {
		r.PublishedAt = c.now
	}
	s.releases = append(s.releases, r)
	return created(s.releaseJSON(r))
}

func (s *Server) generateNotes(c *call) reply {
	var req struct {
		TagName         string `json:"tag_name"`
		TargetCommitish string `json:"target_commitish"`
		PreviousTagName string `json:"previous_tag_name"`
	}
	if answer, ok := decode(c, &req); !ok {
		return answer
	}
	if req.PreviousTagName != "" {
		if _, found := s.resolve("refs/tags/" + req.PreviousTagName); !found {
			return validationFailed("ReleaseNotes", "previous_tag_name", "invalid", "")
		}
	}
	target := cmp.Or(req.TargetCommitish, defaultBranch)
	if _, tagged := s.refs["refs/tags/"+req.TagName]; !tagged {
		if _, found := s.resolve(target); !found {
			return validationFailed("ReleaseNotes", "target_commitish", "invalid", "")
		}
	}
	notes := s.releaseNotes(req.TagName, target, req.PreviousTagName)
	return ok(object{"name": notes.name, "body": notes.body})
}

type notes struct{ name, body string }

// releaseNotes writes what GitHub generates: the pull requests merged between the previous
// release's tag and tag (or target, when tag does not exist yet), and a link to the full diff.
func (s *Server) releaseNotes(tag, target, previous string) notes {
	head, found := s.resolve("refs/tags/" + tag)
	if !found {
		head, _ = s.resolve(target)
	}
	if previous == "" {
		if r, found := s.latestRelease(tag); found {
			previous = r.TagName
		}
	}
	var since string
	if base, found := s.resolve("refs/tags/" + previous); previous != "" && found {
		since = base.sha
	}
	inRange := map[string]bool{}
	for _, c := range s.between(since, head.sha) {
		inRange[c.sha] = true
	}
	var merged []*PullRequest
	for _, pr := range s.pulls {
		if pr.Merged && inRange[pr.MergeCommitSHA] {
			merged = append(merged, pr)
		}
	}
	slices.SortFunc(merged, func(a, b *PullRequest) int { return a.ClosedAt.Compare(b.ClosedAt) })

	var body strings.Builder
	if len(merged) > 0 {
		body.WriteString("## What's Changed\n")
		for _, pr := range merged {
			fmt.Fprintf(&body, "* %s by @%s in %s/pull/%d\n", pr.Title, pr.Author, s.htmlURL(), pr.Number)
		}
		body.WriteString("\n")
	}
	if previous != "" {
		fmt.Fprintf(&body, "**Full Changelog**: %s/compare/%s...%s", s.htmlURL(), previous, tag)
	} else {
		fmt.Fprintf(&body, "**Full Changelog**: %s/commits/%s", s.htmlURL(), tag)
	}
	return notes{name: tag, body: body.String()}
}
