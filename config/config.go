// Package config reads opsbot.yaml — what the team's runbook is: channels, who holds which role,
// the repository and its branches, the environments and their gates — and the secrets and
// endpoint overrides that come from the environment.
//
// Load never reads the process environment itself: the caller passes a lookup function, so tests
// and the sandbox can hand it a map. Every problem is reported with the file and line of the
// setting at fault, all at once, so that `opsbot config check` can list them together.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a validated opsbot.yaml plus the environment's secrets and endpoints.
type Config struct {
	// Path is the file the configuration was read from ("" when built in code).
	Path string `yaml:"-"`

	Slack      Slack     `yaml:"slack"`
	Roles      Roles     `yaml:"roles"`
	Store      Store     `yaml:"store"`
	HTTP       HTTP      `yaml:"http"`
	GitHub     GitHub    `yaml:"github"`
	Deploy     Deploy    `yaml:"deploy"`
	Incidents  Incidents `yaml:"incidents"`
	Sandbox    Sandbox   `yaml:"sandbox"`
	Env        Env       `yaml:"-"`
	lineOfPath map[string]int
}

// Slack names the channels opsbot reports in.
type Slack struct {
	// DeploysChannel receives release and deploy status cards.
	DeploysChannel string `yaml:"deploys_channel"`
	// IncidentsChannel receives incident announcements.
	IncidentsChannel string `yaml:"incidents_channel"`
	// StakeholdersChannel receives stakeholder updates by default.
	StakeholdersChannel string `yaml:"stakeholders_channel"`
}

// Role is something a person may be allowed to do.
type Role string

// The roles opsbot checks.
const (
	RoleDeployer          Role = "deployer"
	RoleProductOwner      Role = "product_owner"
	RoleIncidentCommander Role = "incident_commander"
	RoleOnCall            Role = "on_call"
	RoleAdmin             Role = "admin"
)

// AllRoles lists the roles in the order help and config check show them.
var AllRoles = []Role{RoleDeployer, RoleProductOwner, RoleIncidentCommander, RoleOnCall, RoleAdmin}

// Members are the Slack users and user groups that hold a role.
type Members struct {
	Users  []string `yaml:"users"`
	Groups []string `yaml:"groups"`
}

// Roles maps each role to its members. Admins hold every role.
type Roles map[Role]Members

// Store selects the database.
type Store struct {
	// Driver is "sqlite" (default, one replica) or "postgres" (several replicas; the DSN
	// comes from OPSBOT_DATABASE_URL).
	Driver string `yaml:"driver"`
	// Path is the SQLite file (default ./opsbot.db).
	Path string `yaml:"path"`
	// Lease is how long a replica holds a run without renewing it (default 30s).
	Lease Duration `yaml:"lease"`
}

// HTTP is the health and metrics listener.
type HTTP struct {
	// Listen is the address of /healthz, /readyz and /metrics ("" disables the listener).
	Listen string `yaml:"listen"`
}

// GitHub describes the repository and its release flow.
type GitHub struct {
	Repository          string   `yaml:"repository"` // owner/name
	DevelopBranch       string   `yaml:"develop_branch"`
	MainBranch          string   `yaml:"main_branch"`
	ReleaseBranchPrefix string   `yaml:"release_branch_prefix"`
	MergeMethod         string   `yaml:"merge_method"` // merge | squash | rebase
	Workflow            Workflow `yaml:"workflow"`
}

// Workflow is the production deployment workflow.
type Workflow struct {
	File string `yaml:"file"` // e.g. deploy.yml
	// Trigger is "tag" (the workflow runs on the tag push) or "dispatch" (opsbot dispatches
	// it with the tag as an input).
	Trigger string `yaml:"trigger"`
	// Input is the workflow_dispatch input that carries the tag (dispatch and rollbacks).
	Input string `yaml:"input"`
}

// Deploy holds the environments and their gates.
type Deploy struct {
	DefaultEnvironment string                  `yaml:"default_environment"`
	Environments       map[string]*Environment `yaml:"environments"`
}

// Environment is one deploy target and the gates a deploy to it passes.
type Environment struct {
	Name string `yaml:"-"`
	// RequiredChecks lists the check-run and status contexts that must succeed; empty means all.
	RequiredChecks []string `yaml:"required_checks"`
	// Soak requires the release head to have been deployed to another environment for a while.
	Soak *Soak `yaml:"soak"`
	// Approval names the role whose member must approve (default product_owner; "none" for no approval).
	Approval Role `yaml:"approval"`
	// Checklist requires the runbook's deployment checklist (default true).
	Checklist *bool `yaml:"checklist"`
	// Release says a deploy here is the release: it merges the release pull request, tags the
	// merge and publishes the GitHub release before the workflow runs. Default: true for the
	// environment called production, false elsewhere (those deploy the release branch as it is,
	// by dispatching the workflow on it).
	Release *bool `yaml:"release"`
	// PostDeployment is the verification after the workflow, and auto_rollback (see
	// verification.go).
	PostDeployment `yaml:",inline"`
}

// Releases reports whether a deploy to the environment merges, tags and publishes the release.
func (e *Environment) Releases() bool {
	if e.Release != nil {
		return *e.Release
	}
	return e.Name == "production"
}

// Soak is the time a release must have spent in an earlier environment.
type Soak struct {
	Environment string   `yaml:"environment"`
	Duration    Duration `yaml:"duration"`
}

// ChecklistRequired reports whether the checklist gate applies to the environment.
func (e *Environment) ChecklistRequired() bool { return e.Checklist == nil || *e.Checklist }

// Sandbox points opsbot at the sandbox fakes (`opsbot sandbox --config-out` writes it). Env
// holds defaults for the environment variables: endpoints, and the sandbox's own publicly known
// credentials. The real environment wins over them, and every URL here must be loopback, so a
// real credential can never be sent to the sandbox or a sandbox one to a vendor.
type Sandbox struct {
	Env map[string]string `yaml:"env"`
}

// Duration is a time.Duration written as "30s", "24h" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s, 10m, 24h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Problem is one bad setting.
type Problem struct {
	File    string
	Line    int // 0 when the setting is missing altogether
	Setting string
	Message string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Setting == "" {
		return fmt.Sprintf("%s: %s", loc, p.Message)
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Setting, p.Message)
}

// Problems is every bad setting found by Load.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// LoadFile reads and validates the configuration at path. getenv looks up secrets and
// endpoint overrides (pass os.Getenv from main). The error, if any, is Problems.
func LoadFile(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	return Parse(path, data, getenv)
}

// Parse validates configuration text; name is used in problem locations.
func Parse(name string, data []byte, getenv func(string) string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{{File: name, Line: yamlErrorLine(err), Message: yamlErrorText(err)}}
	}
	cfg := &Config{Path: name, lineOfPath: map[string]int{}}
	if root.Kind != 0 {
		indexLines(&root, "", cfg.lineOfPath)
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(cfg); err != nil {
			return nil, decodeProblems(name, err)
		}
	}
	cfg.Env = readEnv(withSandboxDefaults(getenv, cfg.Sandbox.Env))
	cfg.applyDefaults()
	if ps := cfg.validate(); len(ps) > 0 {
		return nil, ps
	}
	return cfg, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// decodeProblems turns yaml.v3's "line N: ..." messages into located problems.
func decodeProblems(name string, err error) Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Problems{{File: name, Line: yamlErrorLine(err), Message: yamlErrorText(err)}}
	}
	ps := make(Problems, 0, len(te.Errors))
	for _, msg := range te.Errors {
		p := Problem{File: name, Message: msg}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			fmt.Sscan(m[1], &p.Line)
			p.Message = m[2]
		}
		ps = append(ps, p)
	}
	return ps
}

func yamlErrorLine(err error) int {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		return n
	}
	return 0
}

func yamlErrorText(err error) string {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return m[2]
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// indexLines records the line of every setting by its dotted path (lists as path[i]).
func indexLines(n *yaml.Node, path string, into map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, into)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			p := key
			if path != "" {
				p = path + "." + key
			}
			into[p] = n.Content[i].Line
			indexLines(n.Content[i+1], p, into)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			into[p] = c.Line
			indexLines(c, p, into)
		}
	}
}

// line returns the line of a setting, or of its nearest configured parent.
func (c *Config) line(path string) int {
	for p := path; p != ""; {
		if l, ok := c.lineOfPath[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func (c *Config) applyDefaults() {
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.Store.Path == "" {
		c.Store.Path = "./opsbot.db"
	}
	if c.Store.Lease == 0 {
		c.Store.Lease = Duration(30 * time.Second)
	}
	g := &c.GitHub
	setDefault(&g.DevelopBranch, "develop")
	setDefault(&g.MainBranch, "main")
	setDefault(&g.ReleaseBranchPrefix, "release/")
	setDefault(&g.MergeMethod, "merge")
	setDefault(&g.Workflow.File, "deploy.yml")
	setDefault(&g.Workflow.Trigger, "tag")
	setDefault(&g.Workflow.Input, "tag")
	if c.Deploy.Environments == nil {
		c.Deploy.Environments = map[string]*Environment{}
	}
	if len(c.Deploy.Environments) == 0 {
		c.Deploy.Environments["production"] = &Environment{}
	}
	if c.Deploy.DefaultEnvironment == "" {
		c.Deploy.DefaultEnvironment = "production"
	}
	for name, env := range c.Deploy.Environments {
		if env == nil {
			env = &Environment{}
			c.Deploy.Environments[name] = env
		}
		env.Name = name
		if env.Approval == "" {
			env.Approval = RoleProductOwner
		}
		if env.Soak != nil && env.Soak.Duration == 0 {
			env.Soak.Duration = Duration(24 * time.Hour)
		}
	}
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

var (
	slackUserID    = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	slackGroupID   = regexp.MustCompile(`^S[A-Z0-9]{2,}$`)
	slackChannelID = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	repoName       = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	envName        = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
)

func (c *Config) validate() Problems {
	var ps Problems
	bad := func(path, format string, args ...any) {
		ps = append(ps, Problem{File: c.Path, Line: c.line(path), Setting: path, Message: fmt.Sprintf(format, args...)})
	}

	for path, id := range map[string]string{
		"slack.deploys_channel":      c.Slack.DeploysChannel,
		"slack.incidents_channel":    c.Slack.IncidentsChannel,
		"slack.stakeholders_channel": c.Slack.StakeholdersChannel,
	} {
		switch {
		case id == "" && path == "slack.deploys_channel":
			bad(path, "required: the channel ID (C…) where release and deploy cards are posted")
		case id != "" && !slackChannelID.MatchString(id):
			bad(path, "%q is not a Slack channel ID (C… or G…; copy it from the channel's details)", id)
		}
	}

	for role, m := range c.Roles {
		if !knownRole(role) {
			bad("roles."+string(role), "unknown role %q (known: %s)", role, roleList())
			continue
		}
		for i, u := range m.Users {
			if !slackUserID.MatchString(u) {
				bad(fmt.Sprintf("roles.%s.users[%d]", role, i), "%q is not a Slack user ID (U…); names can change, IDs cannot", u)
			}
		}
		for i, g := range m.Groups {
			if !slackGroupID.MatchString(g) {
				bad(fmt.Sprintf("roles.%s.groups[%d]", role, i), "%q is not a Slack user group ID (S…)", g)
			}
		}
	}
	if m := c.Roles[RoleDeployer]; len(m.Users)+len(m.Groups) == 0 {
		bad("roles.deployer", "nobody may deploy: give the role at least one user or group")
	}

	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Env.DatabaseURL.Empty() {
			bad("store.driver", "postgres needs its DSN in the environment variable OPSBOT_DATABASE_URL")
		}
	default:
		bad("store.driver", "%q is not a store driver (sqlite or postgres)", c.Store.Driver)
	}
	if c.Store.Lease.Std() < time.Second {
		bad("store.lease", "a lease under 1s would expire while a step runs")
	}

	if c.GitHub.Repository == "" {
		bad("github.repository", "required: owner/name of the repository to release")
	} else if !repoName.MatchString(c.GitHub.Repository) {
		bad("github.repository", "%q is not owner/name", c.GitHub.Repository)
	}
	switch c.GitHub.MergeMethod {
	case "merge", "squash", "rebase":
	default:
		bad("github.merge_method", "%q is not merge, squash or rebase", c.GitHub.MergeMethod)
	}
	switch c.GitHub.Workflow.Trigger {
	case "tag", "dispatch":
	default:
		bad("github.workflow.trigger", "%q is not tag or dispatch", c.GitHub.Workflow.Trigger)
	}

	if _, ok := c.Deploy.Environments[c.Deploy.DefaultEnvironment]; !ok {
		bad("deploy.default_environment", "%q is not one of deploy.environments (%s)",
			c.Deploy.DefaultEnvironment, strings.Join(c.EnvironmentNames(), ", "))
	}
	for _, name := range c.EnvironmentNames() {
		env := c.Deploy.Environments[name]
		path := "deploy.environments." + name
		if !envName.MatchString(name) {
			bad(path, "%q is not an environment name (lower-case letters, digits and -, ≤ 32)", name)
		}
		if env.Approval != "none" && !knownRole(env.Approval) {
			bad(path+".approval", "unknown role %q (known: %s, or none)", env.Approval, roleList())
		}
		if env.Soak != nil && env.Soak.Environment == "" {
			bad(path+".soak.environment", "required: the environment the release must have soaked in")
		}
	}
	ps = append(ps, c.prepareIncidents()...)
	ps = append(ps, c.preparePostDeployment()...)
	for _, name := range sortedKeys(c.Sandbox.Env) {
		path := "sandbox.env." + name
		value := c.Sandbox.Env[name]
		switch {
		case !knownEnvVar(name):
			bad(path, "%s is not a variable opsbot reads (known: %s)", name, strings.Join(EnvVars, ", "))
		case strings.HasSuffix(name, "_URL") && !isLoopback(value):
			bad(path, "%q is not a loopback URL: sandbox settings may only point at the sandbox", value)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// EnvironmentNames returns the configured environment names, sorted.
func (c *Config) EnvironmentNames() []string {
	names := make([]string, 0, len(c.Deploy.Environments))
	for n := range c.Deploy.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func knownRole(r Role) bool {
	for _, k := range AllRoles {
		if k == r {
			return true
		}
	}
	return false
}

func roleList() string {
	names := make([]string, len(AllRoles))
	for i, r := range AllRoles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
