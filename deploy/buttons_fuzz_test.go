package deploy_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/commands"
	"github.com/opsbot-dev/opsbot/store"
)

// deployActions are the deploy cards' action IDs, and one that is not.
var deployActions = []string{
	"deploy.approve", "deploy.reject", "deploy.check", "deploy.cancel",
	"deploy.rollback", "deploy.rollback.confirm", "deploy.rollback.cancel", "deploy.unknown",
}

// FuzzButtonsAndForms sends what a forged or garbled block_actions or view_submission could
// carry — any deploy action ID with any value, or the reject form with any private metadata —
// through the dispatch the bot uses, to a deploy waiting for its approval, in the name of the
// product owner who may approve it. Each must get an answer (a reply or a refusal, never an
// internal error or a panic), and none but the genuine approval value may move the deploy.
func FuzzButtonsAndForms(f *testing.F) {
	b := setup(f)
	run := b.toApproval(f, alice)
	genuine := b.approvalValue(f, run.ID, b.latestApprovalSeq(f, run.ID))
	sha := strings.Split(genuine, ":")[1]
	domain := commands.Deploys{Service: b.svc}

	id := strconv.FormatInt(run.ID, 10)
	for i := range deployActions {
		for _, v := range []string{
			"", ":", "::", id, id + ":", id + ":docs", id + ":nonsense", "-1:docs",
			fmt.Sprintf("%s:%s:9", id, sha), fmt.Sprintf("%s:%s:1", id, strings.Repeat("0", 40)),
			fmt.Sprintf("%d:%s:1", run.ID+1, sha), "9223372036854775808:x:1", id + ":" + sha + ":-1",
			"production", "production:v0.9.0:1", "production:v1.0.0:" + id, "staging::", "../:v1:1",
		} {
			f.Add(uint8(i), v, false)
			f.Add(uint8(i), v, true)
		}
	}

	f.Fuzz(func(t *testing.T, action uint8, value string, form bool) {
		who := actor(bob)
		var err error
		if form {
			_, err = domain.Submit(b.ctx, who, commands.Submission{
				CallbackID: "deploy.reject", PrivateMetadata: value, Values: map[string]string{"reason": "fuzzing"},
			})
		} else {
			_, err = domain.Click(b.ctx, who, commands.Click{
				ActionID: deployActions[int(action)%len(deployActions)], Value: value, TriggerID: "fuzz-trigger",
			})
		}
		if err != nil {
			_, refused := chat.AsRefusal(err)
			require.True(t, refused, "action %d %q (form %t) failed instead of being answered: %v", action, value, form, err)
		}
		if value == genuine {
			t.Skip("the genuine approval value may approve or reject the deploy")
		}
		now, err := b.store.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		require.True(t, stepIs("approval", store.StepWaiting, store.WaitPerson)(now),
			"action %d %q (form %t) moved the deploy:\n%s", action, value, form, describe(now))
	})
}
