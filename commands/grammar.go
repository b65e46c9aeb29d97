// Package commands is the grammar of opsbot's slash commands: it turns the text Slack sends for
// /release, /deploy, /rollback and /incident into a typed Request, or into a UsageError whose text
// tells the person what was wrong and what the right form is. It also writes each command's help
// and makes user text safe to echo back into Slack (Sanitize). The grammar is pure: no I/O.
// One table (grammars) drives both parsing and help, so the two cannot drift apart.
//
// Service (service.go) is the application behind the bot: it recognises retried deliveries,
// authorises, hands each request to its domain (deploys, incidents) and records the answer —
// audit entry and reply — in one store transaction.
package commands

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxTextChars bounds the text of any command. Slack allows far more, but nothing opsbot accepts
// comes close, and refusing early keeps the work per request small.
const maxTextChars = 2000

// grammar is everything opsbot knows about one slash command.
type grammar struct {
	command  string
	summary  string   // what the command is for, first line of its help
	forms    []form   // in the order help lists them
	examples []string // shown after every usage error and at the end of the help
}

// form is one way to use a command.
type form struct {
	keyword string // the first word that selects this form; "" for the form without one
	args    string // the arguments' synopsis, e.g. "[ENVIRONMENT]"
	explain string // one line for the help
	// parse reads the arguments after the keyword; its request counts only when its error is
	// nil. Its errors are one-line problems for the person, to which Parse adds the usage.
	parse func(*grammar, *args) (Request, error)
}

func (f *form) usage(g *grammar) string { return commandLine(g.command, f.keyword, f.args) }

var helpForm = form{
	keyword: "help",
	explain: "show this help",
	parse: func(g *grammar, _ *args) (Request, error) {
		// Anything after "help" is ignored: someone asking for help should get it.
		return HelpRequest{Command: g.command, Text: helpText(g)}, nil
	},
}

// grammars is the table of every command; it is never modified.
var grammars = []*grammar{
	{
		command: Release,
		summary: "start a release and follow it",
		forms: []form{
			{args: "vMAJOR.MINOR.PATCH", explain: "cut the release branch for that version and open its pull request", parse: parseReleaseCreate},
			{keyword: "status", args: "[vMAJOR.MINOR.PATCH]", explain: "show how the current release (or that version's) is going", parse: parseReleaseStatus},
			helpForm,
		},
		examples: []string{"/release v1.4.0", "/release status", "/release status v1.4.0"},
	},
	{
		command: Deploy,
		summary: "deploy a release to an environment, through its gates",
		forms: []form{
			{args: "vMAJOR.MINOR.PATCH [to ENVIRONMENT]", explain: "deploy that version (to the default environment if none is given)", parse: parseDeployStart},
			{keyword: "status", explain: "show the deploys in progress", parse: noArgs(DeployStatus{})},
			{keyword: "history", args: "[ENVIRONMENT]", explain: "list recent deploys, of every environment or of one", parse: parseDeployHistory},
			{keyword: "cancel", args: "[ENVIRONMENT]", explain: "cancel the deploy in progress (to the default environment if none is given)", parse: parseDeployCancel},
			helpForm,
		},
		examples: []string{"/deploy v1.4.0", "/deploy v1.4.0 to staging", "/deploy status", "/deploy history", "/deploy cancel"},
	},
	{
		command: Rollback,
		summary: "put an environment back on an earlier version",
		forms: []form{
			{args: "[ENVIRONMENT] [vMAJOR.MINOR.PATCH]", explain: "roll back (default environment; newest version that passed verification there), after you confirm", parse: parseRollbackStart},
			helpForm,
		},
		examples: []string{"/rollback", "/rollback production", "/rollback production v1.3.2"},
	},
	{
		command: Incident,
		summary: "run an incident from declaration to postmortem",
		forms: []form{
			{keyword: "declare", args: "[--drill] [sev1|sev2|sev3|sev4] [TITLE]", explain: "open an incident (sev1 is the most severe; --drill for practice; no title opens a form)", parse: parseIncidentDeclare},
			{keyword: "update", args: "investigating|identified|monitoring MESSAGE", explain: "post a status update", parse: parseIncidentUpdate},
			{keyword: "severity", args: "sev1|sev2|sev3|sev4", explain: "change the severity", parse: parseIncidentSeverity},
			{keyword: "page", args: "@PERSON|SERVICE", explain: "page a person, or the on-call of a service", parse: parseIncidentPage},
			{keyword: "commander", args: "@PERSON", explain: "hand over incident command", parse: parseIncidentCommander},
			{keyword: "role", args: "ROLE @PERSON", explain: "give someone a role, e.g. comms or scribe", parse: parseIncidentRole},
			{keyword: "resolve", args: "[SUMMARY]", explain: "resolve the incident and draft the postmortem", parse: parseIncidentResolve},
			{keyword: "followup", args: "TEXT", explain: "record a follow-up action for the postmortem", parse: parseIncidentFollowup},
			{keyword: "list", explain: "list the open incidents", parse: noArgs(IncidentList{})},
			{keyword: "status", explain: "show this channel's incident", parse: noArgs(IncidentStatus{})},
			helpForm,
		},
		examples: []string{"/incident declare sev2 Checkout errors", "/incident update identified Bad cache config, rolling back", "/incident page @carol", "/incident resolve"},
	},
}

// grammarOf returns the grammar of command, or nil when opsbot has no such command.
func grammarOf(command string) *grammar {
	for _, g := range grammars {
		if g.command == command {
			return g
		}
	}
	return nil
}

// Parse reads the text Slack sent with a slash command (commands are configured with
// should_escape, so mentions arrive as <@U…|name>) and returns the typed request it asks for.
// Keywords are case-insensitive. Empty text means what the command's keyword-less form means
// with no arguments when that needs none (/rollback), and help otherwise.
//
// Any other outcome is a *UsageError, whose Text is ready to show to the person.
func Parse(command, text string) (Request, error) {
	g := grammarOf(asciiLower(command))
	if g == nil {
		return nil, unknownCommand(command)
	}
	if problem := checkText(text); problem != "" {
		return nil, g.usageError(problem, g.usage())
	}
	a := newArgs(text)
	first, ok := a.peek()
	if !ok {
		if bare := g.bareForm(); bare != nil {
			if req, err := bare.parse(g, a); err == nil {
				return req, nil
			}
		}
		return helpForm.parse(g, a)
	}
	if f := g.formFor(asciiLower(first)); f != nil {
		a.take()
		return g.run(f, a)
	}
	// A word that is not a keyword is the keyword-less form's first argument, unless that form
	// cannot read it and the word looks like a mistyped keyword.
	suggestion := suggest(first, g.keywordList())
	if bare := g.bareForm(); bare != nil {
		req, err := g.run(bare, a)
		if err == nil || suggestion == "" {
			return req, err
		}
	}
	if err := checkLookAlike(first); err != nil {
		return nil, g.usageError(err.Error(), g.usage())
	}
	problem := fmt.Sprintf("%s isn't a %s subcommand.", quote(first), g.command)
	if suggestion != "" {
		problem = fmt.Sprintf("%s isn't a %s subcommand; did you mean `%s`?", quote(first), g.command, suggestion)
	}
	return nil, g.usageError(problem, g.usage())
}

// run parses a's remaining words with form f and gives any problem the form's usage.
func (g *grammar) run(f *form, a *args) (Request, error) {
	req, err := f.parse(g, a)
	if err != nil {
		return nil, g.usageError(err.Error(), f.usage(g))
	}
	return req, nil
}

func (g *grammar) formFor(keyword string) *form {
	for i := range g.forms {
		if f := &g.forms[i]; f.keyword == keyword {
			return f
		}
	}
	return nil
}

func (g *grammar) bareForm() *form {
	for i := range g.forms {
		if g.forms[i].keyword == "" {
			return &g.forms[i]
		}
	}
	return nil
}

func (g *grammar) keywordList() []string {
	var keywords []string
	for _, f := range g.forms {
		if f.keyword != "" {
			keywords = append(keywords, f.keyword)
		}
	}
	return keywords
}

// usage is the command-wide synopsis: the keyword-less form in full, then every keyword.
func (g *grammar) usage() string {
	var alternatives []string
	if bare := g.bareForm(); bare != nil {
		alternatives = append(alternatives, bare.args)
	}
	alternatives = append(alternatives, g.keywordList()...)
	return commandLine(g.command, strings.Join(alternatives, " | "))
}

// UsageError is the answer to a command that could not be read. Problem says what was wrong in one
// line, quoting the offending piece inert; Usage is the right form. Text puts them together the
// way people see it in Slack.
type UsageError struct {
	Command  string // the slash command, e.g. "/deploy"
	Problem  string // e.g. `I couldn't read "v1.0" as a version.`
	Usage    string // e.g. "/deploy vMAJOR.MINOR.PATCH [to ENVIRONMENT]"
	Examples []string
}

func (e *UsageError) Error() string { return "usage of " + e.Command + ": " + e.Problem }

// Text is the message for the person who typed the command: the problem and usage on one line,
// examples on the next.
func (e *UsageError) Text() string {
	return e.Problem + " Usage: " + e.Usage + "\ne.g. " + strings.Join(e.Examples, " · ")
}

func (g *grammar) usageError(problem, usage string) *UsageError {
	return &UsageError{Command: g.command, Problem: problem, Usage: usage, Examples: slices.Clone(g.examples)}
}

func unknownCommand(command string) *UsageError {
	var names, examples []string
	for _, g := range grammars {
		names = append(names, g.command)
		examples = append(examples, commandLine(g.command, "help"))
	}
	return &UsageError{
		Command:  quote(command),
		Problem:  fmt.Sprintf("I don't know the command %s.", quote(command)),
		Usage:    strings.Join(names, " | ") + ", each with help",
		Examples: examples,
	}
}

// checkText refuses text that no command could accept, before it is split into words.
func checkText(text string) string {
	if exceedsChars(text, maxTextChars) {
		return fmt.Sprintf("That's too long: commands take at most %d characters.", maxTextChars)
	}
	if !utf8.ValidString(text) {
		return "The text isn't valid UTF-8."
	}
	for _, r := range text {
		if r == '\t' {
			continue // a tab is just space between words
		}
		if isInvisibleControl(r) {
			if r == '\n' || r == '\r' {
				return "The text contains a line break; commands take one line."
			}
			return fmt.Sprintf("The text contains an invisible control character (%U); please remove it.", r)
		}
	}
	return ""
}

// exceedsChars reports whether s has more than n characters, without counting them all when the
// byte length alone decides (a character is 1 to 4 bytes).
func exceedsChars(s string, n int) bool {
	if len(s) <= n {
		return false
	}
	if len(s) > utf8.UTFMax*n {
		return true
	}
	return utf8.RuneCountInString(s) > n
}

// isInvisibleControl reports control and format characters: NUL, escapes, line breaks, and the
// bidirectional overrides used to make text display differently from what it says. The zero-width
// joiner is allowed because emoji sequences need it.
func isInvisibleControl(r rune) bool {
	return unicode.Is(unicode.Cc, r) || (unicode.Is(unicode.Cf, r) && r != '\u200d')
}

// args are a command's words, split on white space except inside Slack's <…> markup (a mention's
// label may hold spaces), with their positions so free text can be taken exactly as typed.
type args struct {
	text  string
	words []word
	next  int
}

type word struct {
	text  string
	start int
}

func newArgs(text string) *args {
	a := &args{text: text}
	start := -1
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case unicode.IsSpace(r):
			if start >= 0 {
				a.words = append(a.words, word{text[start:i], start})
				start = -1
			}
		case start < 0:
			start = i
		}
		if r == '<' {
			if end := strings.IndexAny(text[i+1:], "<>"); end >= 0 && text[i+1+end] == '>' {
				size = end + 2
			}
		}
		i += size
	}
	if start >= 0 {
		a.words = append(a.words, word{text[start:], start})
	}
	return a
}

func (a *args) peek() (string, bool) {
	if a.next >= len(a.words) {
		return "", false
	}
	return a.words[a.next].text, true
}

func (a *args) take() (string, bool) {
	w, ok := a.peek()
	if ok {
		a.next++
	}
	return w, ok
}

// rest takes all remaining words as free text: exactly as typed, trimmed.
func (a *args) rest() string {
	if a.next >= len(a.words) {
		return ""
	}
	start := a.words[a.next].start
	a.next = len(a.words)
	return strings.TrimRightFunc(a.text[start:], unicode.IsSpace)
}

// done refuses words nobody took.
func (a *args) done() error {
	if w, ok := a.peek(); ok {
		return problemf("There's an extra %s at the end.", quote(w))
	}
	return nil
}

// noArgs is the parser of a form that takes no arguments.
func noArgs(req Request) func(*grammar, *args) (Request, error) {
	return func(_ *grammar, a *args) (Request, error) {
		if err := a.done(); err != nil {
			return nil, err
		}
		return req, nil
	}
}

// problemf formats a one-line problem for the person. Quote any user text in it with quote.
func problemf(format string, a ...any) error { return fmt.Errorf(format, a...) }
