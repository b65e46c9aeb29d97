package commands

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits on free text, so a title fits a channel topic and a status page headline, and a message
// fits one Slack section block with room to spare.
const (
	maxTitleChars   = 200
	maxMessageChars = 1500
)

const drillFlag = "--drill"

func parseReleaseCreate(_ *grammar, a *args) (Request, error) {
	version, err := required(a, "Say which version to release, e.g. v1.4.0.", parseVersion)
	if err != nil {
		return nil, err
	}
	return ReleaseCreate{Version: version}, a.done()
}

func parseReleaseStatus(_ *grammar, a *args) (Request, error) {
	version, err := optional(a, parseVersion)
	if err != nil {
		return nil, err
	}
	return ReleaseStatus{Version: version}, a.done()
}

func parseDeployStart(_ *grammar, a *args) (Request, error) {
	version, err := required(a, "Say which version to deploy, e.g. v1.4.0.", parseVersion)
	if err != nil {
		return nil, err
	}
	w, ok := a.take()
	if !ok {
		return DeployStart{Version: version}, nil
	}
	if asciiLower(w) != "to" {
		if env, err := parseEnv(w); err == nil {
			return nil, problemf(`Put "to" before the environment: %s.`, DeployStart{Version: version, Env: env})
		}
		return nil, problemf("There's an extra %s at the end.", quote(w))
	}
	env, err := required(a, `Say which environment after "to".`, parseEnv)
	if err != nil {
		return nil, err
	}
	return DeployStart{Version: version, Env: env}, a.done()
}

func parseDeployHistory(_ *grammar, a *args) (Request, error) {
	env, err := optional(a, parseEnv)
	if err != nil {
		return nil, err
	}
	return DeployHistory{Env: env}, a.done()
}

func parseDeployCancel(_ *grammar, a *args) (Request, error) {
	env, err := optional(a, parseEnv)
	if err != nil {
		return nil, err
	}
	return DeployCancel{Env: env}, a.done()
}

// parseRollbackStart reads an optional environment and an optional version in either order; the
// version may follow "to", as in "/rollback production to v1.3.2".
func parseRollbackStart(_ *grammar, a *args) (Request, error) {
	var r RollbackStart
	for {
		w, ok := a.take()
		switch {
		case !ok:
			return r, nil
		case asciiLower(w) == "to":
			if next, ok := a.peek(); !ok || !looksLikeVersion(next) {
				return nil, problemf(`Say which version after "to", e.g. /rollback production to v1.3.2.`)
			}
		case looksLikeVersion(w):
			if r.Version != "" {
				return nil, problemf("Give one version, not %s and %s.", r.Version, quote(w))
			}
			version, err := parseVersion(w)
			if err != nil {
				return nil, err
			}
			r.Version = version
		default:
			if r.Env != "" {
				return nil, problemf("Give one environment, not %s and %s.", r.Env, quote(w))
			}
			env, err := parseEnv(w)
			if err != nil {
				return nil, err
			}
			r.Env = env
		}
	}
}

func parseIncidentDeclare(_ *grammar, a *args) (Request, error) {
	var r IncidentDeclare
options:
	for {
		w, ok := a.peek()
		switch {
		case !ok:
			break options
		case isDrillFlag(w):
			r.Drill = true
		case strings.HasPrefix(w, "--") && len(w) > 2:
			return nil, problemf("I don't know the option %s; the only one is %s.", quote(w), drillFlag)
		case looksLikeSeverity(w):
			if r.Severity != 0 {
				return nil, problemf("Give one severity, not %s and %s.", r.Severity, quote(w))
			}
			severity, err := parseSeverity(w)
			if err != nil {
				return nil, err
			}
			r.Severity = severity
		default:
			break options
		}
		a.take()
	}
	title, err := freeText(a.rest(), "title", maxTitleChars)
	if err != nil {
		return nil, err
	}
	r.Title = title
	return r, nil
}

// isDrillFlag accepts --drill also with the dash that macOS "smart dashes" turn "--" into.
func isDrillFlag(w string) bool {
	switch asciiLower(w) {
	case drillFlag, "—drill", "–drill":
		return true
	}
	return false
}

func parseIncidentUpdate(_ *grammar, a *args) (Request, error) {
	phase, err := required(a, "Say the status (investigating, identified or monitoring), then a message.", parsePhase)
	if err != nil {
		return nil, err
	}
	message := a.rest()
	if message == "" {
		return nil, problemf("Add a message after %s.", phase)
	}
	text, err := freeText(message, "message", maxMessageChars)
	if err != nil {
		return nil, err
	}
	return IncidentUpdate{Phase: phase, Message: text}, nil
}

func parseIncidentSeverity(_ *grammar, a *args) (Request, error) {
	severity, err := required(a, "Say which severity: sev1 (the most severe) to sev4.", parseSeverity)
	if err != nil {
		return nil, err
	}
	return IncidentSeverity{Severity: severity}, a.done()
}

func parseIncidentPage(_ *grammar, a *args) (Request, error) {
	w, ok := a.take()
	if !ok {
		return nil, problemf("Say who to page: a person (mention them with @) or a service.")
	}
	var r IncidentPage
	var err error
	if strings.HasPrefix(w, "<") || strings.HasPrefix(w, "@") {
		r.UserID, err = parseUser(w)
	} else {
		r.Service, err = parseName(w, "a service")
	}
	if err != nil {
		return nil, err
	}
	return r, a.done()
}

func parseIncidentCommander(_ *grammar, a *args) (Request, error) {
	userID, err := required(a, "Say who takes command: mention them with @.", parseUser)
	if err != nil {
		return nil, err
	}
	return IncidentCommander{UserID: userID}, a.done()
}

func parseIncidentRole(_ *grammar, a *args) (Request, error) {
	if w, ok := a.peek(); ok && (strings.HasPrefix(w, "<@") || strings.HasPrefix(w, "@")) {
		return nil, problemf("Say the role before the person, e.g. /incident role comms @dana.")
	}
	role, err := required(a, "Say which role and who gets it, e.g. /incident role comms @dana.", parseRole)
	if err != nil {
		return nil, err
	}
	userID, err := required(a, fmt.Sprintf("Say who gets the %s role: mention them with @.", role), parseUser)
	if err != nil {
		return nil, err
	}
	return IncidentRole{Role: role, UserID: userID}, a.done()
}

func parseIncidentResolve(_ *grammar, a *args) (Request, error) {
	summary, err := freeText(a.rest(), "summary", maxMessageChars)
	if err != nil {
		return nil, err
	}
	return IncidentResolve{Summary: summary}, nil
}

func parseIncidentFollowup(_ *grammar, a *args) (Request, error) {
	text := a.rest()
	if text == "" {
		return nil, problemf("Say what should be followed up.")
	}
	followup, err := freeText(text, "follow-up", maxMessageChars)
	if err != nil {
		return nil, err
	}
	return IncidentFollowup{Text: followup}, nil
}

// required takes the next word and parses it, or refuses with missing when there is none.
func required[T any](a *args, missing string, parse func(string) (T, error)) (T, error) {
	w, ok := a.take()
	if !ok {
		var none T
		return none, errors.New(missing)
	}
	return parse(w)
}

// optional parses the next word if there is one.
func optional[T any](a *args, parse func(string) (T, error)) (T, error) {
	w, ok := a.take()
	if !ok {
		var none T
		return none, nil
	}
	return parse(w)
}

var (
	// A SemVer 2.0 version with a "v", without build metadata, each number at most 9 digits so it
	// fits any integer type a caller might use.
	versionPattern = regexp.MustCompile(`^v(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})` +
		`(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?$`)
	// Just enough of a version to say which rule its numbers break.
	versionNumbers = regexp.MustCompile(`^v([0-9]+)\.([0-9]+)\.([0-9]+)`)
	// Names of environments, roles and services, as configured: short, lower-case, shell- and
	// path-safe.
	namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
)

func parseVersion(w string) (Version, error) {
	if err := checkLookAlike(w); err != nil {
		return "", err
	}
	v := w
	if strings.HasPrefix(v, "V") {
		v = "v" + v[1:]
	}
	if versionPattern.MatchString(v) {
		return Version(v), nil
	}
	if versionPattern.MatchString("v" + v) {
		return "", problemf("%s needs a leading v: did you mean v%s?", quote(w), v)
	}
	if core, build, ok := strings.Cut(v, "+"); ok && versionPattern.MatchString(core) {
		return "", problemf("%s has build metadata %s; leave it out: %s.", quote(w), quote("+"+build), core)
	}
	if numbers := versionNumbers.FindStringSubmatch(v); numbers != nil {
		for _, n := range numbers[1:] {
			if len(n) > 9 {
				return "", problemf("I couldn't read %s as a version: a number has more than 9 digits.", quote(w))
			}
			if len(n) > 1 && n[0] == '0' {
				return "", problemf("I couldn't read %s as a version: numbers can't have leading zeros.", quote(w))
			}
		}
	}
	return "", problemf("I couldn't read %s as a version.", quote(w))
}

// looksLikeVersion tells a version from a name where either may stand: a version starts with a
// digit or with v and a digit (look-alikes included, so parseVersion can explain them).
func looksLikeVersion(w string) bool {
	w = asciiLower(foldLookAlikes(w))
	return w != "" && (isDigit(w[0]) || (w[0] == 'v' && len(w) > 1 && isDigit(w[1])))
}

func parseEnv(w string) (string, error) { return parseName(w, "an environment") }

func parseRole(w string) (string, error) { return parseName(w, "a role") }

// parseName reads the name of something configured; what is "an environment", "a role" or
// "a service".
func parseName(w, what string) (string, error) {
	if err := checkLookAlike(w); err != nil {
		return "", err
	}
	name := asciiLower(w)
	if !namePattern.MatchString(name) {
		return "", problemf("%s isn't the name of %s: use a letter, then letters, digits or -, at most 32.", quote(w), what)
	}
	return name, nil
}

// looksLikeSeverity reports words such as "sev2" or "SEV12": where a title may follow, only these
// are read as a severity, so a title like "2 regions down" stays a title.
func looksLikeSeverity(w string) bool {
	w = asciiLower(w)
	return len(w) > 3 && strings.HasPrefix(w, "sev") && strings.Trim(w[3:], "0123456789") == ""
}

// parseSeverity accepts sev1 to sev4 in any case. A bare digit is refused with a hint rather than
// accepted, because after "declare" it would swallow the first word of a title.
func parseSeverity(w string) (Severity, error) {
	if err := checkLookAlike(w); err != nil {
		return 0, err
	}
	switch s := asciiLower(w); s {
	case "sev1", "sev2", "sev3", "sev4":
		return Severity(s[3] - '0'), nil
	case "1", "2", "3", "4":
		return 0, problemf("Write the severity as sev%s.", s)
	}
	return 0, problemf("%s isn't a severity: use sev1 (the most severe) to sev4.", quote(w))
}

func parsePhase(w string) (Phase, error) {
	if err := checkLookAlike(w); err != nil {
		return "", err
	}
	phases := []string{string(PhaseInvestigating), string(PhaseIdentified), string(PhaseMonitoring)}
	s := asciiLower(w)
	for _, p := range phases {
		if s == p {
			return Phase(p), nil
		}
	}
	if s == "resolved" {
		return "", problemf("To resolve the incident, use /incident resolve [SUMMARY].")
	}
	if suggestion := suggest(w, phases); suggestion != "" {
		return "", problemf("%s isn't a status; did you mean `%s`?", quote(w), suggestion)
	}
	return "", problemf("%s isn't a status: use investigating, identified or monitoring.", quote(w))
}

// parseUser reads a Slack user mention, <@U123> or <@U123|name>, into the user's ID.
func parseUser(w string) (string, error) {
	if inner, ok := strings.CutPrefix(w, "<@"); ok && strings.HasSuffix(inner, ">") {
		id, _, _ := strings.Cut(strings.TrimSuffix(inner, ">"), "|")
		if userIDPattern.MatchString(id) {
			return id, nil
		}
	}
	if strings.HasPrefix(w, "@") {
		return "", problemf("%s is plain text, not a mention: pick the person from Slack's list as you type @.", quote(w))
	}
	return "", problemf("%s isn't a person: mention them with @ and pick them from Slack's list.", quote(w))
}

// freeText checks the length of text a person wrote; what names it in the refusal.
func freeText(text, what string, maxChars int) (UserText, error) {
	if exceedsChars(text, maxChars) {
		return "", problemf("The %s is %d characters long; keep it to %d.", what, utf8.RuneCountInString(text), maxChars)
	}
	return UserText(text), nil
}

// suggest returns the keyword w is most likely a typo of, or "" when none is close: within one
// edit per three letters of the keyword, a swap of neighbours counting as one edit. A word with a
// look-alike character gets no suggestion: checkLookAlike explains it better.
func suggest(w string, keywords []string) string {
	if utf8.RuneCountInString(w) > 20 || foldLookAlikes(w) != w {
		return ""
	}
	typed := []rune(asciiLower(w))
	best, bestDistance := "", 0
	for _, k := range keywords {
		d := editDistance(typed, []rune(k))
		if d <= max(1, len(k)/3) && (best == "" || d < bestDistance) {
			best, bestDistance = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions, deletions, substitutions
// and swaps of adjacent characters.
func editDistance(a, b []rune) int {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// lookAlikes maps the non-ASCII letters most often mistaken for ASCII ones (Cyrillic and Greek
// homoglyphs, dashes, dots) to the character they imitate. Full-width forms and mathematical
// digits are mapped by range in foldLookAlike.
var lookAlikes = map[rune]rune{
	'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'ѕ': 's', 'і': 'i',
	'ј': 'j', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'ѵ': 'v', 'һ': 'h', 'ӏ': 'l',
	'А': 'A', 'В': 'B', 'Е': 'E', 'К': 'K', 'М': 'M', 'Н': 'H', 'О': 'O', 'Р': 'P', 'С': 'C',
	'Т': 'T', 'Х': 'X', 'Ѕ': 'S', 'І': 'I', 'Ј': 'J',
	'ο': 'o', 'ν': 'v', 'ι': 'i', 'κ': 'k', 'ρ': 'p', 'υ': 'u', 'α': 'a',
	'Α': 'A', 'Β': 'B', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'H', 'Ι': 'I', 'Κ': 'K', 'Μ': 'M', 'Ν': 'N',
	'Ο': 'O', 'Ρ': 'P', 'Τ': 'T', 'Υ': 'Y', 'Χ': 'X',
	'ⅰ': 'i', 'ⅴ': 'v', 'ⅹ': 'x', 'Ⅰ': 'I', 'Ⅴ': 'V', 'Ⅹ': 'X', 'ᴠ': 'v', 'ı': 'i', '\u212a': 'K', // Kelvin sign
	'‐': '-', '‑': '-', '−': '-', '․': '.',
}

func foldLookAlike(r rune) (rune, bool) {
	switch {
	case r >= '！' && r <= '～': // full-width forms of ASCII '!' to '~'
		return r - '！' + '!', true
	case r >= '𝟎' && r <= '𝟿': // five styles of mathematical digits, ten each
		return '0' + (r-'𝟎')%10, true
	}
	ascii, ok := lookAlikes[r]
	return ascii, ok
}

func foldLookAlikes(w string) string {
	return strings.Map(func(r rune) rune {
		if ascii, ok := foldLookAlike(r); ok {
			return ascii
		}
		return r
	}, w)
}

// checkLookAlike refuses a word meant to be plain ASCII (a keyword, version or name) that holds a
// character imitating one, which would otherwise fail with a baffling "couldn't read".
func checkLookAlike(w string) error {
	for _, r := range w {
		if ascii, ok := foldLookAlike(r); ok {
			return problemf("%s contains a look-alike character: %U looks like %s but isn't; please type it in plain ASCII.",
				quote(w), r, quote(string(ascii)))
		}
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// asciiLower lower-cases ASCII letters only: Unicode case folding would let look-alikes such as
// the Kelvin sign pass for keywords.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
