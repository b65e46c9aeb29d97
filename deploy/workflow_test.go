package deploy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/store"
)

// deployStatuses are the states a deployment reported, oldest first.
func deployStatuses(d fakegithub.Deployment) []string {
	states := make([]string, len(d.Statuses))
	for i, s := range d.Statuses {
		states[i] = s.State
	}
	return states
}

// versionRuns are the fake's workflow runs that deploy v1.0.0.
func (b *testBundle) versionRuns() []fakegithub.WorkflowRun {
	var runs []fakegithub.WorkflowRun
	for _, r := range b.gh.WorkflowRuns() {
		if r.Tag == version {
			runs = append(runs, r)
		}
	}
	return runs
}

func (b *testBundle) versionReleases() []fakegithub.Release {
	var releases []fakegithub.Release
	for _, r := range b.gh.Releases() {
		if r.TagName == version {
			releases = append(releases, r)
		}
	}
	return releases
}

func (b *testBundle) versionTag(t testing.TB) fakegithub.Tag {
	t.Helper()
	for _, tag := range b.gh.Tags() {
		if tag.Name == version {
			return tag
		}
	}
	t.Fatalf("there is no tag %s", version)
	return fakegithub.Tag{}
}

func TestDeployToProduction(t *testing.T) {
	t.Parallel()
	cases := []struct {
		trigger string
		world   func(testing.TB) *testBundle
		event   string
	}{
		{"tag", func(t testing.TB) *testBundle { return newWorld(t, quickWorkflow) }, "push"},
		{"dispatch", newDispatchWorld, "workflow_dispatch"},
	}
	for _, tc := range cases {
		t.Run(tc.trigger, func(t *testing.T) {
			t.Parallel()
			b := tc.world(t)
			b.start(t, processHooks{})

			run := b.deployToProduction(t)

			require.Equal(t, store.RunSucceeded, run.State, describe(run))
			card := b.card(t, run.ID)
			require.Contains(t, card, "✅ v1.0.0 is deployed to production.")
			require.Contains(t, card, "⏭ *Verification* — skipped: no checks configured", "an unconfigured check is skipped visibly")
			merges := b.gh.Merges()
			require.Len(t, merges, 1)
			require.Equal(t, "main", merges[0].Base)
			require.Equal(t, "merge", merges[0].Method)
			tag := b.versionTag(t)
			require.Equal(t, merges[0].SHA, tag.SHA, "the tag marks the merge commit")
			require.True(t, tag.Annotated)
			releases := b.versionReleases()
			require.Len(t, releases, 1)
			require.Contains(t, releases[0].Body, "## What's Changed")
			runs := b.versionRuns()
			require.Len(t, runs, 1)
			require.Equal(t, tc.event, runs[0].Event)
			require.Equal(t, "success", runs[0].Conclusion)
			deployments := b.productionDeployments()
			require.Len(t, deployments, 1)
			require.Equal(t, []string{"in_progress", "success"}, deployStatuses(deployments[0]))
			b.requireJobReplies(t, run.ID, runs[0].ID, map[string]string{"build": "✅ Job", "deploy": "✅ Job"})

			history, err := b.svc.History(b.ctx, "production")
			require.NoError(t, err)
			require.Contains(t, history.Text, "✅ Deploy v1.0.0 → production · done · <@U0ALICE>")
		})
	}
}

func TestWorkflowFailureFailsTheDeploy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.gh.Fail(fakegithub.FaultWorkflowFail, 1))

	run := b.deployToProduction(t)

	require.Equal(t, store.RunFailed, run.State, describe(run))
	workflow := run.StepByName("workflow")
	require.Equal(t, store.StepFailed, workflow.State)
	require.Contains(t, workflow.Detail, `failed: job deploy, step "Deploy"`)
	require.Equal(t, store.StepPending, run.StepByName("verification").State)
	card := b.card(t, run.ID)
	require.Contains(t, card, "❌ Failed at Production workflow: <https://github.com/acme/analytics/actions/runs/")
	require.Contains(t, card, `failed: job deploy, step "Deploy"`)
	deployments := b.productionDeployments()
	require.Len(t, deployments, 1)
	require.Equal(t, []string{"in_progress", "failure"}, deployStatuses(deployments[0]))
	require.Equal(t, "failure", b.versionRuns()[0].Conclusion)
	b.requireJobReplies(t, run.ID, b.versionRuns()[0].ID, map[string]string{"build": "✅ Job", "deploy": "❌ Job"})
}

// requireJobReplies asserts that the run's thread has one reply per job of the workflow run,
// starting as want says.
func (b *testBundle) requireJobReplies(t *testing.T, runID, workflowRunID int64, want map[string]string) {
	t.Helper()
	jobs, err := b.client.WorkflowJobs(b.ctx, workflowRunID)
	require.NoError(t, err)
	require.Len(t, jobs, len(want))
	for _, job := range jobs {
		reply := shown(t, b.outbox(t, fmt.Sprintf("run:%d:job:%d", runID, job.ID)))
		require.True(t, strings.HasPrefix(reply, want[job.Name]), "the reply on job %s: %s", job.Name, reply)
		require.Contains(t, reply, "|"+job.Name+">")
	}
}

func TestStagingDeploysTheReleaseBranchWithoutMergingOrTagging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	approvedByCarol(t, b, b.cutRelease(t))
	head := b.releaseHead(t)

	run := b.startDeploy(t, alice, "staging")
	run = b.drive(t, run.ID, ended, b.people(t))

	require.Equal(t, store.RunSucceeded, run.State, describe(run))
	require.Equal(t, store.StepSkipped, run.StepByName("merge").State)
	require.Contains(t, run.StepByName("merge").Detail, "staging deploys the release branch as it is")
	require.Equal(t, store.StepSkipped, run.StepByName("tag").State)
	require.Empty(t, b.gh.Merges(), "a staging deploy merges nothing into main")
	for _, tg := range b.gh.Tags() {
		require.NotEqual(t, version, tg.Name, "and tags nothing")
	}
	var dispatched []fakegithub.WorkflowRun
	for _, wr := range b.gh.WorkflowRuns() {
		if wr.Event == "workflow_dispatch" {
			dispatched = append(dispatched, wr)
		}
	}
	require.Len(t, dispatched, 1, "the workflow is dispatched on the release branch")
	require.Equal(t, head, dispatched[0].HeadSHA)
	require.Equal(t, version, dispatched[0].Inputs["tag"])
}

func TestRedeployingATaggedVersionDispatchesTheWorkflow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.deployToProduction(t)
	require.Equal(t, store.RunSucceeded, first.State, describe(first))

	run := b.startDeploy(t, alice, "")
	run = b.drive(t, run.ID, ended, b.people(t))

	require.Equal(t, store.RunSucceeded, run.State, describe(run))
	require.Len(t, b.gh.Merges(), 1, "the merged pull request is not merged again")
	tags := 0
	for _, tg := range b.gh.Tags() {
		if tg.Name == version {
			tags++
		}
	}
	require.Equal(t, 1, tags, "the tag is not moved or made again")
	var events []string
	for _, wr := range b.gh.WorkflowRuns() {
		if wr.Tag == version {
			events = append(events, wr.Event)
		}
	}
	require.Equal(t, []string{"push", "workflow_dispatch"}, events, "the tag push started the first; the re-deploy dispatched the second")
}
