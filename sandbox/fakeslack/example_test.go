package fakeslack_test

import (
	"fmt"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// The real slack-go client talks to the sandbox unchanged; what it posts is visible to the test.
func Example() {
	srv, err := fakeslack.New(fakeslack.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	api := slack.New(fakeslack.BotToken, slack.OptionAppLevelToken(fakeslack.AppToken), slack.OptionAPIURL(srv.APIURL()))
	if _, _, err := api.PostMessage(fakeslack.Deploys, slack.MsgOptionText("Deploying v1.4.0", false)); err != nil {
		panic(err)
	}
	_, _, err = api.PostMessage("C0NOSUCH", slack.MsgOptionText("lost", false))
	fmt.Println(srv.Messages(fakeslack.Deploys)[0].Text)
	fmt.Println(err)
	// Output:
	// Deploying v1.4.0
	// channel_not_found
}
