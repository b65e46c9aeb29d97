package commands

import "strings"

// HelpText returns the help of a slash command: what it is for, each of its forms with a line
// of explanation, and examples. For a command opsbot does not have, it lists the ones it has.
func HelpText(command string) string {
	if g := grammarOf(asciiLower(command)); g != nil {
		return helpText(g)
	}
	return unknownCommand(command).Text()
}

func helpText(g *grammar) string {
	var b strings.Builder
	b.WriteString(g.command + " — " + g.summary + "\n")
	for i := range g.forms {
		f := &g.forms[i]
		b.WriteString("• " + f.usage(g) + " — " + f.explain + "\n")
	}
	b.WriteString("e.g. " + strings.Join(g.examples, " · "))
	return b.String()
}
