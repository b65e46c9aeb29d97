package commands_test

import (
	"errors"
	"fmt"

	"github.com/opsbot-dev/opsbot/commands"
)

func ExampleParse() {
	req, _ := commands.Parse(commands.Deploy, "v1.4.0 to Staging")
	fmt.Printf("%#v\n", req)

	_, err := commands.Parse(commands.Deploy, "v1.0")
	var usage *commands.UsageError
	if errors.As(err, &usage) {
		fmt.Println(usage.Text())
	}
	// Output:
	// commands.DeployStart{Version:"v1.4.0", Env:"staging"}
	// I couldn't read "v1.0" as a version. Usage: /deploy vMAJOR.MINOR.PATCH [to ENVIRONMENT]
	// e.g. /deploy v1.4.0 · /deploy v1.4.0 to staging · /deploy status · /deploy history · /deploy cancel
}

func ExampleSanitize() {
	text := "<!here> <@U0BOB|bob> says: 1 &lt; 2"
	fmt.Printf("%q\n", commands.Sanitize(text, commands.UserMentions))
	fmt.Printf("%q\n", commands.Sanitize(text, commands.InertMentions))
	// Output:
	// "@\u200bhere <@U0BOB> says: 1 &lt; 2"
	// "@\u200bhere @\u200bbob says: 1 &lt; 2"
}
