package github

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	gogithub "github.com/google/go-github/v60/github"
)

// Deployment is a GitHub deployment of a commit to an environment.
type Deployment struct {
	ID           int64
	Ref          string // as given when it was created: a branch, tag or SHA
	SHA          string
	Environment  string
	Description  string
	CreatedAt    time.Time
	LatestStatus DeploymentStatus // zero when it has none
}

// DeploymentStatus is one state a deployment reported.
type DeploymentStatus struct {
	State     string // queued, pending, in_progress, success, failure, error or inactive
	CreatedAt time.Time
}

// payloadKey is the field of a deployment's payload in which opsbot stores the key of the run
// that created it, to find it again instead of creating a second.
const payloadKey = "opsbot_key"

// Deployments lists the deployments of commit sha to environment, newest first, each with its
// latest status (one call per deployment, after the list).
func (c *Client) Deployments(ctx context.Context, sha, environment string) ([]Deployment, error) {
	op := fmt.Sprintf("listing the deployments of %s to %s", sha, environment)
	found, resp, err := c.listDeployments(ctx, &gogithub.DeploymentsListOptions{SHA: sha, Environment: environment})
	if err != nil {
		return nil, fail(ctx, op, resp, err)
	}
	deployments := make([]Deployment, len(found))
	for i, d := range found {
		if deployments[i], err = c.withLatestStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return deployments, nil
}

// LastSuccessfulDeployment returns the newest deployment of commit sha to environment whose
// latest status is success; nil when there is none. One that was superseded (inactive) or failed
// later does not count: the environment no longer runs it. Its LatestStatus.CreatedAt is when it
// succeeded, from which a soak is measured.
func (c *Client) LastSuccessfulDeployment(ctx context.Context, sha, environment string) (*Deployment, error) {
	found, resp, err := c.listDeployments(ctx, &gogithub.DeploymentsListOptions{SHA: sha, Environment: environment})
	if err != nil {
		return nil, fail(ctx, fmt.Sprintf("finding the last successful deployment of %s to %s", sha, environment), resp, err)
	}
	for _, d := range found {
		deployment, err := c.withLatestStatus(ctx, d)
		if err != nil {
			return nil, err
		}
		if deployment.LatestStatus.State == "success" {
			return &deployment, nil
		}
	}
	return nil, nil
}

// CreateDeployment records a deployment of ref to environment, made by the run identified by
// key, unless that run has recorded one for ref and environment already; that one is returned.
// GitHub is told not to merge the default branch in (auto_merge) and not to check CI again
// (required_contexts): the pipeline has checked it, and the deployment records what happens.
func (c *Client) CreateDeployment(ctx context.Context, ref, environment, description, key string) (Deployment, error) {
	op := fmt.Sprintf("recording a deployment of %s to %s", ref, environment)
	if key == "" {
		return Deployment{}, fmt.Errorf("%s: a key is required to find it again", op)
	}
	found, resp, err := c.listDeployments(ctx, &gogithub.DeploymentsListOptions{Ref: ref, Environment: environment})
	if err != nil {
		return Deployment{}, fail(ctx, op, resp, err)
	}
	for _, d := range found {
		var payload map[string]any
		if json.Unmarshal(d.Payload, &payload) == nil && payload[payloadKey] == key {
			return c.withLatestStatus(ctx, d)
		}
	}
	created, resp, err := c.gh.Repositories.CreateDeployment(ctx, c.owner, c.repo, &gogithub.DeploymentRequest{
		Ref: gogithub.String(ref), Environment: gogithub.String(environment), Description: gogithub.String(description),
		AutoMerge: gogithub.Bool(false), RequiredContexts: &[]string{}, Payload: map[string]string{payloadKey: key},
	})
	if err != nil {
		return Deployment{}, fail(ctx, op, resp, err)
	}
	return deploymentOf(created), nil
}

// SetDeploymentStatus reports state (see DeploymentStatus) on deployment id, with a link to its
// log, unless its latest status has that state already.
func (c *Client) SetDeploymentStatus(ctx context.Context, id int64, state, logURL, description string) error {
	op := fmt.Sprintf("setting deployment %d to %s", id, state)
	latest, err := c.latestStatus(ctx, id)
	if err != nil {
		return err
	}
	if latest.State == state {
		return nil
	}
	request := &gogithub.DeploymentStatusRequest{State: gogithub.String(state), Description: gogithub.String(description)}
	if logURL != "" {
		request.LogURL = gogithub.String(logURL)
	}
	_, resp, err := c.gh.Repositories.CreateDeploymentStatus(ctx, c.owner, c.repo, id, request)
	if err != nil {
		return fail(ctx, op, resp, err)
	}
	return nil
}

func (c *Client) listDeployments(ctx context.Context, filter *gogithub.DeploymentsListOptions) ([]*gogithub.Deployment, *gogithub.Response, error) {
	return allPages(func(page gogithub.ListOptions) ([]*gogithub.Deployment, *gogithub.Response, error) {
		filter.ListOptions = page
		return c.gh.Repositories.ListDeployments(ctx, c.owner, c.repo, filter)
	})
}

func deploymentOf(d *gogithub.Deployment) Deployment {
	return Deployment{
		ID: d.GetID(), Ref: d.GetRef(), SHA: d.GetSHA(), Environment: d.GetEnvironment(),
		Description: d.GetDescription(), CreatedAt: d.GetCreatedAt().Time,
	}
}

func (c *Client) withLatestStatus(ctx context.Context, d *gogithub.Deployment) (Deployment, error) {
	deployment := deploymentOf(d)
	var err error
	deployment.LatestStatus, err = c.latestStatus(ctx, deployment.ID)
	return deployment, err
}

// latestStatus is deployment id's newest status, zero when it has none. GitHub lists the newest
// first, so one item is enough.
func (c *Client) latestStatus(ctx context.Context, id int64) (DeploymentStatus, error) {
	statuses, resp, err := c.gh.Repositories.ListDeploymentStatuses(ctx, c.owner, c.repo, id, &gogithub.ListOptions{PerPage: 1})
	if err != nil {
		return DeploymentStatus{}, fail(ctx, fmt.Sprintf("reading the status of deployment %d", id), resp, err)
	}
	if len(statuses) == 0 {
		return DeploymentStatus{}, nil
	}
	return DeploymentStatus{State: statuses[0].GetState(), CreatedAt: statuses[0].GetCreatedAt().Time}, nil
}
