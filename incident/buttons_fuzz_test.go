package incident_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/commands"
	"github.com/opsbot-dev/opsbot/incident"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// incidentActions and incidentForms are the incident messages' action IDs and the incident
// forms' callback IDs, each with one that is not.
var (
	incidentActions = []string{
		"incident.update", "incident.page", "incident.deploys", "incident.resolve", "incident.publish",
		"incident.snooze", "incident.check", "incident.unknown",
	}
	incidentForms = []string{"incident.declare", "incident.update", "incident.page", "incident.resolve", "incident.unknown"}
)

// FuzzButtonsAndForms sends what a forged or garbled block_actions or view_submission could
// carry — any incident action ID with any value, any incident form with any private metadata
// and any field values — through the dispatch the bot uses, in the name of Dave, who holds no
// incident role. Each must get an answer (a reply or a refusal, never an internal error or a
// panic), and none may change the open incident: only a commander may.
func FuzzButtonsAndForms(f *testing.F) {
	b := setup(f, "")
	run := b.declare(f, incident.Declaration{Severity: 2, Title: "Checkout errors"})
	domain := commands.Incidents{Service: b.svc}
	dave := actor(dave, channelOf(f, run))

	id := strconv.FormatInt(run.ID, 10)
	for i := range incidentActions {
		for _, v := range []string{"", ":", id, id + ":", id + ":1", id + ":x", id + ":99999999999999999999", "-1", "0:0",
			"9223372036854775808", `{"origin":"C0INCIDENTS"}`, `{"origin":"C0INCIDENTS","drill":true}`, "{", "null"} {
			for _, field := range []string{"", "sev1", "resolved", fakeslack.Carol, "<!channel> yes", "apicomponent,nope"} {
				f.Add(uint8(i), v, uint8(i), field)
			}
		}
	}

	f.Fuzz(func(t *testing.T, action uint8, value string, form uint8, field string) {
		var err error
		if form%2 == 0 {
			_, err = domain.Click(b.ctx, dave, commands.Click{
				ActionID: incidentActions[int(action)%len(incidentActions)], Value: value, TriggerID: "fuzz-trigger",
			})
		} else {
			values := map[string]string{}
			for _, name := range []string{"title", "severity", "description", "components", "customer_facing",
				"status", "message", "user", "service", "summary"} {
				values[name] = field
			}
			_, err = domain.Submit(b.ctx, dave, commands.Submission{
				CallbackID: incidentForms[int(action)%len(incidentForms)], PrivateMetadata: value, Values: values,
			})
		}
		if err != nil {
			_, refused := chat.AsRefusal(err)
			require.True(t, refused, "action %d %q (form %t, field %q) failed instead of being answered: %v",
				action, value, form%2 == 1, field, err)
		}
		now := b.run(t, run.ID)
		require.False(t, now.State.Final(), "the incident was ended:\n%s", describe(now))
		require.Equal(t, run.Title, now.Title, "the incident changed:\n%s", describe(now))
	})
}
