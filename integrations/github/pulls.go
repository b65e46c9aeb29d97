package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	gogithub "github.com/google/go-github/v60/github"
)

// PullRequest is a pull request as the pipeline follows it.
type PullRequest struct {
	Number         int
	URL            string // on GitHub's web site
	State          string // open or closed
	Merged         bool
	MergeCommitSHA string // once merged
	HeadSHA        string
	Title, Body    string
}

func pullRequestOf(pr *gogithub.PullRequest) PullRequest {
	return PullRequest{
		Number: pr.GetNumber(), URL: pr.GetHTMLURL(), State: pr.GetState(), Merged: pr.GetMerged(),
		MergeCommitSHA: pr.GetMergeCommitSHA(), HeadSHA: pr.GetHead().GetSHA(), Title: pr.GetTitle(), Body: pr.GetBody(),
	}
}

// PullRequest returns pull request number; ErrNotFound when there is none.
func (c *Client) PullRequest(ctx context.Context, number int) (PullRequest, error) {
	pr, resp, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, number)
	if err != nil {
		return PullRequest{}, fail(ctx, fmt.Sprintf("looking up pull request #%d", number), resp, err)
	}
	return pullRequestOf(pr), nil
}

// FindPullRequest returns the pull request from branch head into branch base: the open one if
// there is one, else the newest closed one; nil when there is none.
func (c *Client) FindPullRequest(ctx context.Context, head, base string) (*PullRequest, error) {
	pulls, resp, err := allPages(func(page gogithub.ListOptions) ([]*gogithub.PullRequest, *gogithub.Response, error) {
		return c.gh.PullRequests.List(ctx, c.owner, c.repo, &gogithub.PullRequestListOptions{
			State: "all", Head: c.owner + ":" + head, Base: base, ListOptions: page,
		})
	})
	if err != nil {
		return nil, fail(ctx, fmt.Sprintf("finding the pull request from %s into %s", head, base), resp, err)
	}
	if len(pulls) == 0 {
		return nil, nil
	}
	// GitHub lists the newest first.
	i := max(0, slices.IndexFunc(pulls, func(pr *gogithub.PullRequest) bool { return pr.GetState() == "open" }))
	found := pullRequestOf(pulls[i])
	return &found, nil
}

// OpenPullRequest opens a pull request from branch head into branch base, unless one is open
// already; that one is returned as it is (its title and body are not changed).
func (c *Client) OpenPullRequest(ctx context.Context, head, base, title, body string) (PullRequest, error) {
	existing, err := c.FindPullRequest(ctx, head, base)
	if err != nil {
		return PullRequest{}, err
	}
	if existing != nil && existing.State == "open" {
		return *existing, nil
	}
	pr, resp, err := c.gh.PullRequests.Create(ctx, c.owner, c.repo, &gogithub.NewPullRequest{
		Title: gogithub.String(title), Head: gogithub.String(head), Base: gogithub.String(base), Body: gogithub.String(body),
	})
	if err != nil {
		err = fail(ctx, fmt.Sprintf("opening a pull request from %s into %s", head, base), resp, err)
		if errors.Is(err, ErrInvalid) { // opened meanwhile: use it
			if opened, lookErr := c.FindPullRequest(ctx, head, base); lookErr == nil && opened != nil && opened.State == "open" {
				return *opened, nil
			}
		}
		return PullRequest{}, err
	}
	return pullRequestOf(pr), nil
}

// ReviewSummary is where a pull request's reviews stand: each reviewer's latest approval or
// request for changes counts; comments change nothing, and a dismissed review no longer counts.
type ReviewSummary struct {
	ApprovedBy         []string // logins, sorted
	ChangesRequestedBy []string // logins, sorted
}

// Reviews summarises pull request number's reviews.
func (c *Client) Reviews(ctx context.Context, number int) (ReviewSummary, error) {
	reviews, resp, err := allPages(func(page gogithub.ListOptions) ([]*gogithub.PullRequestReview, *gogithub.Response, error) {
		return c.gh.PullRequests.ListReviews(ctx, c.owner, c.repo, number, &page)
	})
	if err != nil {
		return ReviewSummary{}, fail(ctx, fmt.Sprintf("listing the reviews of pull request #%d", number), resp, err)
	}
	verdicts := map[string]string{} // login → APPROVED or CHANGES_REQUESTED; GitHub lists reviews oldest first
	for _, review := range reviews {
		login := review.GetUser().GetLogin()
		switch state := review.GetState(); state {
		case "APPROVED", "CHANGES_REQUESTED":
			verdicts[login] = state
		case "DISMISSED":
			delete(verdicts, login)
		}
	}
	var summary ReviewSummary
	for login, verdict := range verdicts {
		if verdict == "APPROVED" {
			summary.ApprovedBy = append(summary.ApprovedBy, login)
		} else {
			summary.ChangesRequestedBy = append(summary.ChangesRequestedBy, login)
		}
	}
	slices.Sort(summary.ApprovedBy)
	slices.Sort(summary.ChangesRequestedBy)
	return summary, nil
}

// MergePullRequest merges pull request number with method (merge, squash or rebase; GitHub
// takes empty as merge) and returns the merge commit's SHA. GitHub merges only while the
// head is still expectedHeadSHA; otherwise the error matches ErrHeadMoved. A pull request GitHub
// will not merge gives ErrNotMergeable. If it is merged already, nothing is merged again and its
// merge commit is returned — unless it was merged at another head (ErrHeadMoved).
func (c *Client) MergePullRequest(ctx context.Context, number int, expectedHeadSHA, method, commitTitle string) (string, error) {
	op := fmt.Sprintf("merging pull request #%d at %s", number, expectedHeadSHA)
	pr, err := c.PullRequest(ctx, number)
	if err != nil {
		return "", err
	}
	if pr.Merged {
		if pr.HeadSHA != expectedHeadSHA {
			return "", fmt.Errorf("%s: it was merged at %s: %w", op, pr.HeadSHA, ErrHeadMoved)
		}
		return pr.MergeCommitSHA, nil
	}
	result, resp, err := c.gh.PullRequests.Merge(ctx, c.owner, c.repo, number, "", &gogithub.PullRequestOptions{
		CommitTitle: commitTitle, SHA: expectedHeadSHA, MergeMethod: method,
	})
	if err != nil {
		err = refine(fail(ctx, op, resp, err), http.StatusConflict, ErrHeadMoved)
		return "", refine(err, http.StatusMethodNotAllowed, ErrNotMergeable)
	}
	return result.GetSHA(), nil
}
