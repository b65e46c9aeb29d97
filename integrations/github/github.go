// Package github is opsbot's GitHub client for the release and deploy pipeline: a thin typed
// layer over go-github for one repository's branches, comparisons, pull requests and reviews,
// checks, merges, tags, releases, deployments and Actions workflow runs.
//
// Every method takes a context first. Every write may be called again after a crash: it first
// looks for its own effect (the branch, the open pull request, the merge, the tag, the release,
// the deployment or its status) and returns that instead of acting twice. A lookup by name or
// number (Branch, Tag, Release, PullRequest, WorkflowRun) that finds nothing returns an error
// matching ErrNotFound; a search (FindPullRequest, FindWorkflowRun, LastSuccessfulDeployment,
// LatestReleaseTag) returns nil or "" instead. GitHub's refusals come back as *Error, whose
// verdict says whether trying again later can help (RetryAfter).
//
// GET requests are conditional: the client remembers each answer's ETag and asks again with
// If-None-Match, and GitHub's 304, which does not count against the rate limit, is handed to
// go-github as the remembered answer. Stats counts the requests sent and the 304s.
package github

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	gogithub "github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/config"
)

// perPage is the page size of every list call: GitHub's maximum, so that a list rarely takes
// more than one call.
const perPage = 100

// defaultTimeout bounds each request when Options.HTTPClient is nil: a GitHub call slower than
// this is treated as a timeout, which is worth retrying.
const defaultTimeout = 30 * time.Second

// Options say which repository to reach and as whom.
type Options struct {
	// BaseURL is the REST API's root: empty for api.github.com; for GitHub Enterprise Server and
	// the sandbox, its https://HOST/api/v3/ (the suffix is added when missing).
	BaseURL string
	// Token is a token with contents, pull requests, deployments and actions write access.
	Token config.Secret
	// Owner and Repo name the repository, e.g. "acme" and "analytics".
	Owner, Repo string
	// HTTPClient sends the requests; its timeout bounds each one. Default: a client with a 30 s
	// timeout. Its transport is wrapped, not changed.
	HTTPClient *http.Client
	// Log receives a debug line per request.
	Log zerolog.Logger
}

// Client talks to one repository. It is safe for concurrent use.
type Client struct {
	gh          *gogithub.Client
	owner, repo string
	transport   *conditionalTransport
}

// New returns a client for the repository opts names.
func New(opts Options) (*Client, error) {
	switch {
	case opts.Token.Empty():
		return nil, errors.New("github: a token is required")
	case opts.Owner == "" || opts.Repo == "":
		return nil, errors.New("github: the repository's owner and name are required")
	}
	httpClient := &http.Client{Timeout: defaultTimeout}
	if opts.HTTPClient != nil {
		copied := *opts.HTTPClient
		httpClient = &copied
	}
	transport := newConditionalTransport(httpClient.Transport, opts.Log)
	httpClient.Transport = transport

	gh := gogithub.NewClient(httpClient).WithAuthToken(opts.Token.Reveal())
	if opts.BaseURL != "" {
		var err error
		if gh, err = gh.WithEnterpriseURLs(opts.BaseURL, opts.BaseURL); err != nil {
			return nil, fmt.Errorf("github: API URL %q: %w", opts.BaseURL, err)
		}
	}
	return &Client{gh: gh, owner: opts.Owner, repo: opts.Repo, transport: transport}, nil
}

// Stats returns how many requests the client has sent so far and how many of them GitHub
// answered 304 Not Modified. Requests − NotModified is what counted against the rate limit.
func (c *Client) Stats() CallStats { return c.transport.stats() }

// allPages calls list for every page of a list, GitHub's largest pages first, and returns the
// items of all pages. On error it returns the failing call's response, for fail.
func allPages[T any](list func(gogithub.ListOptions) ([]T, *gogithub.Response, error)) ([]T, *gogithub.Response, error) {
	page := gogithub.ListOptions{PerPage: perPage}
	var all []T
	for {
		items, resp, err := list(page)
		if err != nil {
			return nil, resp, err
		}
		all = append(all, items...)
		if resp.NextPage == 0 {
			return all, resp, nil
		}
		page.Page = resp.NextPage
	}
}
