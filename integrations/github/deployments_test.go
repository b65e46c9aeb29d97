package github_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

func TestLastSuccessfulDeployment(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fault   fakegithub.Fault
		wantAge time.Duration
	}{
		{"soaked: deployed to development 25 h ago", "", 25 * time.Hour},
		{"soak young: deployed 1 h ago", fakegithub.FaultSoakYoung, time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakegithub.Options{})
			if c.fault != "" {
				require.NoError(t, b.srv.Fail(c.fault, 1))
			}
			developHead := b.branchHead(t, "develop")

			got, err := b.client.LastSuccessfulDeployment(b.ctx, developHead, "development")
			require.NoError(t, err)
			require.NotNil(t, got)
			require.Equal(t, developHead, got.SHA)
			require.Equal(t, "development", got.Environment)
			require.Equal(t, "success", got.LatestStatus.State)
			require.WithinDuration(t, b.clock.Now().Add(-c.wantAge), got.CreatedAt, time.Second)

			none, err := b.client.LastSuccessfulDeployment(b.ctx, developHead, "production")
			require.NoError(t, err)
			require.Nil(t, none, "never deployed to production")
		})
	}
}

func TestLastSuccessfulDeploymentIgnoresOneThatFailedSince(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	developHead := b.branchHead(t, "develop")
	soaked, err := b.client.LastSuccessfulDeployment(b.ctx, developHead, "development")
	require.NoError(t, err)
	require.NotNil(t, soaked)

	require.NoError(t, b.client.SetDeploymentStatus(b.ctx, soaked.ID, "failure", "", "crashed overnight"))
	none, err := b.client.LastSuccessfulDeployment(b.ctx, developHead, "development")
	require.NoError(t, err)
	require.Nil(t, none)
}

func TestCreateDeploymentIsIdempotentPerKey(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	before := len(b.srv.Deployments())
	// CI on develop is not green: the deployment must not wait for it (the pipeline checked CI).
	require.NoError(t, b.srv.SetCheck("develop", "e2e", "in_progress"))

	first, err := b.client.CreateDeployment(b.ctx, "develop", "staging", "Deploy develop", "run-1")
	require.NoError(t, err)
	again, err := b.client.CreateDeployment(b.ctx, "develop", "staging", "Deploy develop", "run-1")
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Equal(t, github.Deployment{
		ID: first.ID, Ref: "develop", SHA: b.branchHead(t, "develop"), Environment: "staging",
		Description: "Deploy develop", CreatedAt: first.CreatedAt,
	}, first)
	require.Len(t, b.srv.Deployments(), before+1)

	other, err := b.client.CreateDeployment(b.ctx, "develop", "staging", "Deploy develop again", "run-2")
	require.NoError(t, err)
	require.NotEqual(t, first.ID, other.ID, "another run deploys again")
	require.Len(t, b.srv.Deployments(), before+2)

	listed, err := b.client.Deployments(b.ctx, first.SHA, "staging")
	require.NoError(t, err)
	require.Equal(t, []int64{other.ID, first.ID}, []int64{listed[0].ID, listed[1].ID}, "newest first")
}

func TestSetDeploymentStatusSkipsARepeat(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	d, err := b.client.CreateDeployment(b.ctx, "develop", "staging", "Deploy develop", "run-1")
	require.NoError(t, err)

	for range 2 {
		require.NoError(t, b.client.SetDeploymentStatus(b.ctx, d.ID, "in_progress", "https://github.com/acme/analytics/actions/runs/1", "deploying"))
	}
	b.clock.Advance(time.Minute)
	require.NoError(t, b.client.SetDeploymentStatus(b.ctx, d.ID, "success", "https://github.com/acme/analytics/actions/runs/1", "deployed"))

	deployments := b.srv.Deployments()
	statuses := deployments[len(deployments)-1].Statuses
	require.Len(t, statuses, 2)
	require.Equal(t, []string{"in_progress", "success"}, []string{statuses[0].State, statuses[1].State})
	require.Equal(t, "https://github.com/acme/analytics/actions/runs/1", statuses[1].LogURL)

	listed, err := b.client.Deployments(b.ctx, d.SHA, "staging")
	require.NoError(t, err)
	require.Equal(t, "success", listed[0].LatestStatus.State)
	require.WithinDuration(t, b.clock.Now(), listed[0].LatestStatus.CreatedAt, time.Second)

	err = b.client.SetDeploymentStatus(b.ctx, 1, "success", "", "")
	require.ErrorIs(t, err, github.ErrNotFound)
}
