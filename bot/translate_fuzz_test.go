package bot

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/commands"
)

// FuzzTranslateInteraction feeds interactive payloads, as socketmode decodes them, to the
// translation into the application's types: a click carries exactly the pressed button's
// action and value, a submission every input of the form, anything else is ignored or
// refused with an error — never a panic.
func FuzzTranslateInteraction(f *testing.F) {
	for _, seed := range []string{
		`{"type":"block_actions","user":{"id":"U0BOB","name":"bob"},"container":{"type":"message","channel_id":"C0DEPLOYS","message_ts":"1.2"},"actions":[{"action_id":"deploy.approve","block_id":"approval","value":"1:abc:1","type":"button"}],"trigger_id":"t"}`,
		`{"type":"block_actions","user":{"id":"U0BOB"},"channel":{"id":"C0DEPLOYS"},"actions":[]}`,
		`{"type":"block_actions","actions":[{"action_id":"a","value":"<!channel>"},{"action_id":"b","value":"x"}]}`,
		`{"type":"view_submission","user":{"id":"U0BOB"},"view":{"id":"V1","callback_id":"deploy.reject","private_metadata":"1:abc:1","state":{"values":{"reason":{"reason":{"type":"plain_text_input","value":"not today"}}}}}}`,
		`{"type":"view_submission","view":{"callback_id":"incident.declare","state":{"values":{"severity":{"s":{"type":"static_select","selected_option":{"value":"sev2"}}},"components":{"c":{"type":"multi_static_select","selected_options":[{"value":"b"},{"value":"a"}]}},"user":{"u":{"type":"users_select","selected_user":"U0CAROL"}}}}}}`,
		`{"type":"view_closed","view":{"id":"V1"}}`,
		`{"type":"shortcut"}`,
		`{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var cb slack.InteractionCallback
		if json.Unmarshal(payload, &cb) != nil {
			return // socketmode cannot decode it either; it never reaches translate
		}
		in, err := translateInteraction("envelope", cb, time.Unix(0, 0))
		switch v := in.(type) {
		case nil:
			if cb.Type == slack.InteractionTypeBlockActions {
				require.Error(t, err, "a block_actions payload is a click or an error")
			} else {
				require.NoError(t, err)
				require.NotEqual(t, slack.InteractionTypeViewSubmission, cb.Type)
			}
		case commands.Click:
			require.NoError(t, err)
			pressed := cb.ActionCallback.BlockActions[0]
			require.Equal(t, pressed.ActionID, v.ActionID)
			require.Equal(t, pressed.Value, v.Value)
			require.Equal(t, cb.User.ID, v.UserID)
		case commands.Submission:
			require.NoError(t, err)
			require.Equal(t, cb.View.CallbackID, v.CallbackID)
			require.Equal(t, cb.View.PrivateMetadata, v.PrivateMetadata)
			fields := 0
			if cb.View.State != nil {
				fields = len(cb.View.State.Values)
			}
			require.Len(t, v.Values, fields, "one value per input block")
		default:
			t.Fatalf("an interactive payload became %T", in)
		}
	})
}
