package github

import (
	"context"
	"errors"

	gogithub "github.com/google/go-github/v60/github"
)

// Release is a GitHub release.
type Release struct {
	ID   int64
	URL  string // on GitHub's web site
	Name string
	Body string
}

func releaseOf(r *gogithub.RepositoryRelease) Release {
	return Release{ID: r.GetID(), URL: r.GetHTMLURL(), Name: r.GetName(), Body: r.GetBody()}
}

// GenerateNotes asks GitHub to write the release notes of tag: the pull requests merged since
// previousTag (empty: since the latest release) up to tag or, while tag does not exist, up to
// target (a branch or SHA). It returns the suggested release name and the notes in Markdown.
func (c *Client) GenerateNotes(ctx context.Context, tag, target, previousTag string) (name, body string, err error) {
	opts := &gogithub.GenerateNotesOptions{TagName: tag}
	if target != "" {
		opts.TargetCommitish = gogithub.String(target)
	}
	if previousTag != "" {
		opts.PreviousTagName = gogithub.String(previousTag)
	}
	notes, resp, err := c.gh.Repositories.GenerateReleaseNotes(ctx, c.owner, c.repo, opts)
	if err != nil {
		return "", "", fail(ctx, "generating the release notes of "+tag, resp, err)
	}
	return notes.Name, notes.Body, nil
}

// Release returns the published release of tag; ErrNotFound when there is none.
func (c *Client) Release(ctx context.Context, tag string) (*Release, error) {
	release, resp, err := c.gh.Repositories.GetReleaseByTag(ctx, c.owner, c.repo, tag)
	if err != nil {
		return nil, fail(ctx, "looking up the release of "+tag, resp, err)
	}
	found := releaseOf(release)
	return &found, nil
}

// CreateRelease publishes the release of tag with name and body (Markdown), unless tag has a
// release already; that one is returned as it is. Create the tag first: for a missing tag GitHub
// would create it on the head of the default branch.
func (c *Client) CreateRelease(ctx context.Context, tag, name, body string) (Release, error) {
	existing, err := c.Release(ctx, tag)
	switch {
	case err == nil:
		return *existing, nil
	case !errors.Is(err, ErrNotFound):
		return Release{}, err
	}
	release, resp, err := c.gh.Repositories.CreateRelease(ctx, c.owner, c.repo, &gogithub.RepositoryRelease{
		TagName: gogithub.String(tag), Name: gogithub.String(name), Body: gogithub.String(body),
	})
	if err != nil {
		err = fail(ctx, "publishing the release of "+tag, resp, err)
		if errors.Is(err, ErrInvalid) { // published meanwhile: use it
			if existing, lookErr := c.Release(ctx, tag); lookErr == nil {
				return *existing, nil
			}
		}
		return Release{}, err
	}
	return releaseOf(release), nil
}
