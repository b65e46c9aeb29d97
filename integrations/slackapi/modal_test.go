package slackapi_test

import (
	"context"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/chat"
)

// A form that cannot open because its click's trigger_id is unknown, spent or older than 3 s
// is the person's to hear (press again), not an internal error.
func TestOpenModalWithAnUnusableTriggerIsRefused(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t)
	view := slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: "test.form", Title: chat.Plain("Form"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(chat.Mrkdwn("Hello"), nil, nil)}},
	}

	_, err := c.OpenModal(context.Background(), "1.2.not-a-trigger", view)

	refusal, ok := chat.AsRefusal(err)
	require.True(t, ok, "refused, not failed: %v", err)
	require.Equal(t, "Slack no longer lets me open that form (invalid_trigger_id): press the button again.", refusal.Reason)
}
