package deploy_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/store"
)

// toApproval cuts the release, has its pull request approved and deploys it as requester
// until the deploy waits for a product owner's approval.
func (b *testBundle) toApproval(t testing.TB, requester string) store.Run {
	t.Helper()
	approvedByCarol(t, b, b.cutRelease(t))
	run := b.startDeploy(t, requester, "")
	return b.drive(t, run.ID, stepIs("approval", store.StepWaiting, store.WaitPerson), b.people(t))
}

// approvalRequested says a run's seq-th approval request has been posted.
func (b *testBundle) approvalRequested(seq int) func(store.Run) bool {
	return func(run store.Run) bool {
		_, err := b.store.GetOutbox(b.ctx, approvalKey(run.ID, seq))
		return err == nil
	}
}

func TestApprovalRequestNamesVersionSHAAndEnvironment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.toApproval(t, alice)
	head := b.releaseHead(t)

	request := b.outbox(t, approvalKey(run.ID, 1))

	require.Equal(t, fmt.Sprintf("run:%d:card", run.ID), request.ThreadOf)
	require.Contains(t, shown(t, request), fmt.Sprintf("@product_owner v1.0.0 (%s) is ready for production. Requested by <@U0ALICE>.", head[:7]))
	require.Contains(t, shown(t, request), fmt.Sprintf("Deploy *v1.0.0* (%s, release/v1.0.0) to *production*.", head[:7]), "Approve asks for a confirmation")
	require.Equal(t, fmt.Sprintf("%d:%s:1", run.ID, head), buttonValue(t, request, "deploy.approve"))
	require.Equal(t, fmt.Sprintf("%d:%s:1", run.ID, head), buttonValue(t, request, "deploy.reject"))
	require.Contains(t, b.card(t, run.ID), "⏸ *Approval* — waiting for @product_owner to approve "+head[:7])
}

func TestApprovalRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.toApproval(t, carol) // a deployer who is also a product owner
	head := b.releaseHead(t)
	value := b.approvalValue(t, run.ID, 1)
	release, err := b.store.GetRunByKey(b.ctx, "release:acme/analytics:v1.0.0")
	require.NoError(t, err)
	forged := "That button does not match the approval request of this deploy; use the buttons in its thread."

	cases := []struct {
		name  string
		who   string
		value string
		want  string
	}{
		{"self-approval", carol, value, "You requested this deploy; someone else must approve it."},
		{"a deployer who is no product owner", alice, value, "Only @product_owner can approve deploys to production."},
		{"someone with no role", dave, value, "Only @product_owner can approve deploys to production."},
		{"a value naming another SHA", bob, fmt.Sprintf("%d:%s:1", run.ID, "0123456789abcdef0123456789abcdef01234567"), forged},
		{"a value naming a request not made", bob, fmt.Sprintf("%d:%s:2", run.ID, head), forged},
		{"a value naming the release run", bob, fmt.Sprintf("%d:%s:1", release.ID, head), "That button is not one of mine."},
		{"a value naming no run", bob, fmt.Sprintf("%d:%s:1", run.ID+100, head), "That deploy does not exist."},
		{"a value that is no approval", bob, fmt.Sprintf("%d:docs", run.ID), "That button is not one of mine."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.svc.Approve(b.ctx, actor(tc.who), tc.value)
			requireRefused(t, err, tc.want)
		})
	}

	b.drive(t, run.ID, stepIs("approval", store.StepWaiting, store.WaitPerson), nil)
	require.Empty(t, b.gh.Merges(), "no refused click approves anything")
}

func TestApprovalByTheProductOwnerCountsOnceWhenDoubleClicked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.toApproval(t, alice)
	head := b.releaseHead(t)
	value := b.approvalValue(t, run.ID, 1)

	replies := make([]string, 2)
	errs := make([]error, 2)
	var clicks sync.WaitGroup
	for i := range replies {
		clicks.Go(func() {
			reply, err := b.svc.Approve(b.ctx, actor(bob), value)
			replies[i], errs[i] = reply.Text, err
		})
	}
	clicks.Wait()

	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	slices.Sort(replies)
	require.Equal(t, []string{
		fmt.Sprintf("You already approved v1.0.0 (%s); it counts once.", head[:7]),
		fmt.Sprintf("You approved v1.0.0 (%s) for production.", head[:7]),
	}, replies) // sorted
	run = b.drive(t, run.ID, stepIs("merge", store.StepPassed, ""), nil)
	require.Equal(t, "approved by <@U0BOB> for "+head[:7], run.StepByName("approval").Detail)
	require.Contains(t, shown(t, b.outbox(t, fmt.Sprintf("run:%d:approved:1", run.ID))),
		fmt.Sprintf("✅ Approved by <@U0BOB> for v1.0.0 (%s)", head[:7]))
	require.Len(t, b.gh.Merges(), 1)
}

func TestAMovedReleaseHeadIsGatedAgainBeforeApproval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.toApproval(t, alice)
	first := b.approvalValue(t, run.ID, 1)
	oldHead := b.releaseHead(t)

	newHead, err := b.gh.PushCommit(branch, "Fix the link in the release notes")
	require.NoError(t, err)
	// The runbook's gates hold for one commit: the new one has been through CI (the fake runs
	// it green) but has not soaked in development.
	run = b.drive(t, run.ID, stepIs("soak", store.StepWaiting, store.WaitBlocked), nil)
	require.Contains(t, run.StepByName("ci").Detail, newHead[:7], "CI is checked again, for the new head")
	require.Contains(t, shown(t, b.outbox(t, fmt.Sprintf("run:%d:rewound:%s", run.ID, newHead))), fmt.Sprintf(
		"⚠️ The release head moved to %s after the gates passed for %s; re-checking CI, soak and code review for %s.",
		newHead[:7], oldHead[:7], newHead[:7]))
	_, err = b.svc.Approve(b.ctx, actor(bob), first)
	requireRefused(t, err, "This deploy is not waiting for approval")

	b.deployedToDevelopment(t, newHead)
	run = b.drive(t, run.ID, b.approvalRequested(2), nil)

	superseded := b.outbox(t, approvalKey(run.ID, 1))
	require.Contains(t, shown(t, superseded), fmt.Sprintf("~Approval requested for %s~ — the release head moved to %s", oldHead[:7], newHead[:7]))
	_, hasButton := findButtonIn(t, superseded, "deploy.approve")
	require.False(t, hasButton, "the old request loses its buttons")
	second := b.approvalValue(t, run.ID, 2)
	require.Equal(t, fmt.Sprintf("%d:%s:2", run.ID, newHead), second)

	_, err = b.svc.Approve(b.ctx, actor(bob), first)
	requireRefused(t, err, fmt.Sprintf("The release head moved to %s after this request", newHead[:7]))
	_, err = b.svc.Approve(b.ctx, actor(bob), second)
	require.NoError(t, err)
	run = b.drive(t, run.ID, stepIs("approval", store.StepPassed, ""), nil)
	require.Equal(t, "approved by <@U0BOB> for "+newHead[:7], run.StepByName("approval").Detail)
}

func TestApprovalIsVoidWhenTheReleaseHeadMovesAfterIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.toApproval(t, alice)
	first := b.approvalValue(t, run.ID, 1)
	oldHead := b.releaseHead(t)

	// Bob approves while the bot is down, and a commit lands before it is back.
	b.kill()
	b.stopped(t)
	_, err := b.svc.Approve(b.ctx, actor(bob), first)
	require.NoError(t, err)
	newHead, err := b.gh.PushCommit(branch, "Fix the link in the release notes")
	require.NoError(t, err)
	b.start(t, processHooks{})
	run = b.drive(t, run.ID, stepIs("soak", store.StepWaiting, store.WaitBlocked), nil)

	require.Contains(t, shown(t, b.outbox(t, fmt.Sprintf("run:%d:rewound:%s", run.ID, newHead))), fmt.Sprintf(
		"<@U0BOB>'s approval of %s is void.", oldHead[:7]))
	require.Empty(t, b.gh.Merges(), "nothing is merged on a void approval")
	b.deployedToDevelopment(t, newHead)
	run = b.drive(t, run.ID, b.approvalRequested(2), nil)
	_, err = b.svc.Approve(b.ctx, actor(bob), first)
	requireRefused(t, err, fmt.Sprintf("The release head moved to %s after this request", newHead[:7]))
}

func TestRejectEndsTheRunWithTheReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.toApproval(t, alice)
	value := b.approvalValue(t, run.ID, 1)

	_, err := b.svc.PromptReject(b.ctx, actor(alice), value, "trigger-1")
	requireRefused(t, err, "Only @product_owner can reject deploys to production.")
	_, err = b.svc.PromptReject(b.ctx, actor(bob), value, "trigger-2")
	require.NoError(t, err)
	opened := b.modals.opened()
	require.Len(t, opened, 1, "Reject asks for a reason")
	require.Equal(t, "deploy.reject", opened[0].CallbackID)
	require.Equal(t, value, opened[0].PrivateMetadata)
	require.Equal(t, "Reject v1.0.0", opened[0].Title.Text)

	_, err = b.svc.Reject(b.ctx, actor(bob), value, "  ")
	requireRefused(t, err, "Say why you reject the deploy.")
	reply, err := b.svc.Reject(b.ctx, actor(bob), value, "Wait until the <marketing> launch is over")
	require.NoError(t, err)
	require.Equal(t, "You rejected v1.0.0; <@U0ALICE> has been told why.", reply.Text)

	run = b.drive(t, run.ID, ended, nil)
	require.Equal(t, store.RunFailed, run.State)
	require.Equal(t, store.StepFailed, run.StepByName("approval").State)
	card := b.card(t, run.ID)
	require.Contains(t, card, "🛑 Rejected by <@U0BOB>: Wait until the &lt;marketing&gt; launch is over")
	require.NotContains(t, card, "Cancel deploy", "an ended run offers no Cancel")
	require.Contains(t, shown(t, b.outbox(t, fmt.Sprintf("run:%d:rejected", run.ID))), "rejected the deploy of v1.0.0: Wait until the &lt;marketing&gt; launch is over")
	_, err = b.store.GetLock(b.ctx, "env:production")
	require.ErrorIs(t, err, store.ErrNotFound, "the environment is free again")
	require.Empty(t, b.gh.Merges())
}
