package github

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gogithub "github.com/google/go-github/v60/github"
	"golang.org/x/mod/semver"
)

// Branch is a branch and the commit at its head.
type Branch struct {
	Name string
	SHA  string
}

// Branch returns the branch called name; ErrNotFound when there is none.
func (c *Client) Branch(ctx context.Context, name string) (Branch, error) {
	ref, resp, err := c.gh.Git.GetRef(ctx, c.owner, c.repo, "heads/"+name)
	if err != nil {
		return Branch{}, fail(ctx, "looking up branch "+name, resp, err)
	}
	return Branch{Name: name, SHA: ref.GetObject().GetSHA()}, nil
}

// CreateBranch creates the branch name at fromSHA. If the branch exists already, at whatever
// commit, that branch is returned: the caller decides whether its head is acceptable.
func (c *Client) CreateBranch(ctx context.Context, name, fromSHA string) (Branch, error) {
	existing, err := c.Branch(ctx, name)
	if !errors.Is(err, ErrNotFound) {
		return existing, err
	}
	op := fmt.Sprintf("creating branch %s at %s", name, fromSHA)
	_, resp, err := c.gh.Git.CreateRef(ctx, c.owner, c.repo, &gogithub.Reference{
		Ref: gogithub.String("refs/heads/" + name), Object: &gogithub.GitObject{SHA: gogithub.String(fromSHA)},
	})
	if err != nil {
		err = fail(ctx, op, resp, err)
		if errors.Is(err, ErrInvalid) { // created meanwhile, or fromSHA is unknown: look again
			if existing, lookErr := c.Branch(ctx, name); lookErr == nil {
				return existing, nil
			}
		}
		return Branch{}, err
	}
	return Branch{Name: name, SHA: fromSHA}, nil
}

// Comparison is how head relates to base.
type Comparison struct {
	Status       string // ahead, behind, identical or diverged
	AheadBy      int
	BehindBy     int
	MergeBaseSHA string
	Commits      []Commit // in head but not in base, oldest first; GitHub lists at most 250
}

// Commit is a commit as a status card lists it.
type Commit struct {
	SHA     string
	Message string // the first line
	Author  string // the author's GitHub login, or their git name when it is linked to no account
	URL     string // the commit on GitHub's web site
}

// Compare compares head with base (branches, tags or SHAs).
func (c *Client) Compare(ctx context.Context, base, head string) (Comparison, error) {
	comparison, resp, err := c.gh.Repositories.CompareCommits(ctx, c.owner, c.repo, base, head, nil)
	if err != nil {
		return Comparison{}, fail(ctx, fmt.Sprintf("comparing %s with %s", head, base), resp, err)
	}
	commits := make([]Commit, len(comparison.Commits))
	for i, commit := range comparison.Commits {
		message, _, _ := strings.Cut(commit.GetCommit().GetMessage(), "\n")
		author := commit.GetAuthor().GetLogin()
		if author == "" {
			author = commit.GetCommit().GetAuthor().GetName()
		}
		commits[i] = Commit{SHA: commit.GetSHA(), Message: message, Author: author, URL: commit.GetHTMLURL()}
	}
	return Comparison{
		Status: comparison.GetStatus(), AheadBy: comparison.GetAheadBy(), BehindBy: comparison.GetBehindBy(),
		MergeBaseSHA: comparison.GetMergeBaseCommit().GetSHA(), Commits: commits,
	}, nil
}

// Tag is a tag and the commit it marks.
type Tag struct {
	Name      string
	SHA       string // the tagged commit, through any annotated tag objects
	Annotated bool
}

// maxTagDepth bounds following tag objects that tag other tag objects, which git allows.
const maxTagDepth = 5

// Tag returns the tag called name; ErrNotFound when there is none.
func (c *Client) Tag(ctx context.Context, name string) (*Tag, error) {
	op := "looking up tag " + name
	ref, resp, err := c.gh.Git.GetRef(ctx, c.owner, c.repo, "tags/"+name)
	if err != nil {
		return nil, fail(ctx, op, resp, err)
	}
	tag := &Tag{Name: name}
	object := ref.GetObject()
	for range maxTagDepth {
		if object.GetType() != "tag" {
			tag.SHA = object.GetSHA()
			return tag, nil
		}
		tag.Annotated = true
		tagObject, resp, err := c.gh.Git.GetTag(ctx, c.owner, c.repo, object.GetSHA())
		if err != nil {
			return nil, fail(ctx, op, resp, err)
		}
		object = tagObject.GetObject()
	}
	return nil, fmt.Errorf("%s: more than %d annotated tags deep", op, maxTagDepth)
}

// CreateAnnotatedTag tags commitSHA as name with an annotated tag carrying message, made by the
// token's user. If the tag exists on that commit already, it is returned; on another commit, the
// error is a *TagConflictError (matching ErrTagConflict) and nothing changes.
//
// Pushing the tag starts any workflow the repository triggers on tags.
func (c *Client) CreateAnnotatedTag(ctx context.Context, name, commitSHA, message string) (Tag, error) {
	existing, err := c.Tag(ctx, name)
	switch {
	case err == nil:
		return sameCommit(*existing, commitSHA)
	case !errors.Is(err, ErrNotFound):
		return Tag{}, err
	}
	op := fmt.Sprintf("tagging %s as %s", commitSHA, name)
	tagObject, resp, err := c.gh.Git.CreateTag(ctx, c.owner, c.repo, &gogithub.Tag{
		Tag: gogithub.String(name), Message: gogithub.String(message),
		Object: &gogithub.GitObject{Type: gogithub.String("commit"), SHA: gogithub.String(commitSHA)},
	})
	if err != nil {
		return Tag{}, fail(ctx, op, resp, err)
	}
	// Until the ref exists the tag object is unreachable: a retry after a crash here makes a
	// second object and leaves the first for git's garbage collection.
	_, resp, err = c.gh.Git.CreateRef(ctx, c.owner, c.repo, &gogithub.Reference{
		Ref: gogithub.String("refs/tags/" + name), Object: &gogithub.GitObject{SHA: tagObject.SHA},
	})
	if err != nil {
		err = fail(ctx, op, resp, err)
		if errors.Is(err, ErrInvalid) { // tagged meanwhile: fine if on the same commit
			if existing, lookErr := c.Tag(ctx, name); lookErr == nil {
				return sameCommit(*existing, commitSHA)
			}
		}
		return Tag{}, err
	}
	return Tag{Name: name, SHA: commitSHA, Annotated: true}, nil
}

func sameCommit(existing Tag, wantSHA string) (Tag, error) {
	if existing.SHA != wantSHA {
		return Tag{}, &TagConflictError{Tag: existing.Name, TaggedSHA: existing.SHA, WantedSHA: wantSHA}
	}
	return existing, nil
}

// LatestReleaseTag returns the highest tag that is a full semantic version (vMAJOR.MINOR.PATCH,
// with any pre-release), by golang.org/x/mod/semver precedence rather than by date; "" when no
// tag is one. Tags, not GitHub releases, are what releases and rollbacks deploy, so a tag whose
// release is missing counts.
func (c *Client) LatestReleaseTag(ctx context.Context) (string, error) {
	tags, resp, err := allPages(func(page gogithub.ListOptions) ([]*gogithub.RepositoryTag, *gogithub.Response, error) {
		return c.gh.Repositories.ListTags(ctx, c.owner, c.repo, &page)
	})
	if err != nil {
		return "", fail(ctx, "listing tags", resp, err)
	}
	latest := ""
	for _, tag := range tags {
		name := tag.GetName()
		if isFullVersion(name) && (latest == "" || semver.Compare(name, latest) > 0) {
			latest = name
		}
	}
	return latest, nil
}

// isFullVersion: semver accepts shorthands such as v1 and v1.2, which are moving aliases
// (a GitHub Action's v1), not releases.
func isFullVersion(tag string) bool {
	return semver.IsValid(tag) && semver.Canonical(tag) == strings.TrimSuffix(tag, semver.Build(tag))
}
