package github_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
)

func TestPollingAnUnchangedRunIsNotModified(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{Workflow: workflow})
	run := b.dispatch(t, "v0.9.0")

	first, err := b.client.WorkflowRun(b.ctx, run.ID)
	require.NoError(t, err)
	before, fakeBefore := b.client.Stats(), b.srv.Calls()

	second, err := b.client.WorkflowRun(b.ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, first, second, "the remembered answer, as if GitHub had sent it again")
	require.Equal(t, github.CallStats{Requests: before.Requests + 1, NotModified: before.NotModified + 1}, b.client.Stats())
	require.Equal(t, fakeBefore.NotModified+1, b.srv.Calls().NotModified, "GitHub answered 304")

	b.clock.Advance(time.Minute)
	moved, err := b.client.WorkflowRun(b.ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, "in_progress", moved.Status, "a changed run is read afresh")
	require.Equal(t, before.NotModified+1, b.client.Stats().NotModified)

	again, err := b.client.WorkflowRun(b.ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, moved, again)
	require.Equal(t, before.NotModified+2, b.client.Stats().NotModified)
}

func TestStatsCountEveryRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, fakegithub.Options{})
	_, err := b.client.CreateBranch(b.ctx, "release/v1.0.0", b.branchHead(t, "develop")) // a 404, then a POST
	require.NoError(t, err)
	_, err = b.client.Branch(b.ctx, "release/v1.0.0")
	require.NoError(t, err)
	_, err = b.client.Branch(b.ctx, "release/v1.0.0")
	require.NoError(t, err)

	require.Equal(t, github.CallStats{Requests: 4, NotModified: 1}, b.client.Stats())
	require.Equal(t, b.srv.Calls().Total, b.client.Stats().Requests)
}
