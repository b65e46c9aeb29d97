// Package deploy runs the production deployment runbook: /release cuts the release branch and
// opens its pull request; /deploy walks the runbook's prerequisites (release branch, CI, soak
// time, code review, checklist, product-owner approval), then merges, tags, follows the
// production workflow, verifies the deploy against AWS and the monitoring tools, and records
// the deployment; /rollback puts an environment back on its last stable version. Each run is a
// durable list of idempotent steps (package runner) with one status card in Slack, updated in
// place.
package deploy

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/config"
	gh "github.com/opsbot-dev/opsbot/integrations/github"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// GitHub is what the pipeline asks of GitHub (integrations/github.Client). Every write is
// idempotent on the client's side too: it looks for its own effect first.
type GitHub interface {
	Branch(ctx context.Context, name string) (gh.Branch, error)
	CreateBranch(ctx context.Context, name, fromSHA string) (gh.Branch, error)
	Compare(ctx context.Context, base, head string) (gh.Comparison, error)
	FindPullRequest(ctx context.Context, head, base string) (*gh.PullRequest, error)
	OpenPullRequest(ctx context.Context, head, base, title, body string) (gh.PullRequest, error)
	PullRequest(ctx context.Context, number int) (gh.PullRequest, error)
	GenerateNotes(ctx context.Context, tag, target, previousTag string) (name, body string, err error)
	LatestReleaseTag(ctx context.Context) (string, error)
	Reviews(ctx context.Context, number int) (gh.ReviewSummary, error)
	Checks(ctx context.Context, sha string, required []string) (gh.CheckSummary, error)
	LastSuccessfulDeployment(ctx context.Context, sha, environment string) (*gh.Deployment, error)
	CreateDeployment(ctx context.Context, ref, environment, description, key string) (gh.Deployment, error)
	SetDeploymentStatus(ctx context.Context, id int64, state, logURL, description string) error
	MergePullRequest(ctx context.Context, number int, expectedHeadSHA, method, commitTitle string) (string, error)
	Tag(ctx context.Context, name string) (*gh.Tag, error)
	CreateAnnotatedTag(ctx context.Context, name, commitSHA, message string) (gh.Tag, error)
	Release(ctx context.Context, tag string) (*gh.Release, error)
	CreateRelease(ctx context.Context, tag, name, body string) (gh.Release, error)
	DispatchWorkflow(ctx context.Context, workflowFile, ref string, inputs map[string]any) error
	FindWorkflowRun(ctx context.Context, workflowFile string, q gh.WorkflowRunQuery) (*gh.WorkflowRun, error)
	WorkflowRun(ctx context.Context, id int64) (gh.WorkflowRun, error)
	WorkflowJobs(ctx context.Context, runID int64) ([]gh.Job, error)
	CancelWorkflowRun(ctx context.Context, id int64) error
}

// Roles answers who holds a role (access.Roles).
type Roles interface {
	Has(ctx context.Context, userID string, role config.Role) (bool, error)
	Holders(role config.Role) string
}

// Modals opens Slack modals (integrations/slackapi.Client).
type Modals interface {
	OpenModal(ctx context.Context, triggerID string, view slack.ModalViewRequest) (string, error)
}

// Options configure a Service.
type Options struct {
	Store  store.Store
	GitHub GitHub
	Roles  Roles
	Modals Modals
	Config *config.Config
	Clock  clock.Clock
	Log    zerolog.Logger
	// Wake nudges the runner after a click made a run due, so it moves within milliseconds.
	Wake func()
	// RepoURL is the repository's web address, for links on the cards
	// (e.g. https://github.com/acme/analytics).
	RepoURL string

	// The integrations post-deployment verification reads. Each may be nil: its checks then
	// show as skipped, not configured — never as passed.
	AWS      AWS
	Sentry   Sentry
	NewRelic NewRelic
	Pingdom  Pingdom
	// HTTP asks the applications' health URLs (default: a client of its own).
	HTTP *http.Client
}

// Service starts and steers release, deploy and rollback runs. Its workflows are run by a
// runner.Runner.
type Service struct {
	opts Options
	cfg  *config.Config
	log  zerolog.Logger
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	switch {
	case opts.Store == nil, opts.GitHub == nil, opts.Roles == nil, opts.Config == nil:
		return nil, errors.New("deploy: a store, GitHub, roles and the configuration are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Wake == nil {
		opts.Wake = func() {}
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{}
	}
	return &Service{opts: opts, cfg: opts.Config, log: opts.Log.With().Str("component", "deploy").Logger()}, nil
}

// Workflows are the run kinds this service owns, for the runner.
func (s *Service) Workflows() map[store.RunKind]runner.Workflow {
	return map[store.RunKind]runner.Workflow{
		store.KindRelease:  releaseWorkflow{s},
		store.KindDeploy:   pipeline{s},
		store.KindRollback: rollbackWorkflow{s},
	}
}

func (s *Service) now() time.Time { return s.opts.Clock.Now() }

// runData is the domain record of a release, deploy or rollback run (store.Run.Data).
type runData struct {
	Version string `json:"version"`
	Env     string `json:"env,omitempty"`
	Branch  string `json:"branch"`

	// RollbackOf is, on a rollback run, the deploy it undoes and why its target was chosen.
	RollbackOf *rollbackOrigin `json:"rollback_of,omitempty"`

	BranchSHA   string   `json:"branch_sha,omitempty"` // the release head as last seen
	GatedSHA    string   `json:"gated_sha,omitempty"`  // the head CI, soak and review passed for
	PR          int      `json:"pr,omitempty"`
	PRURL       string   `json:"pr_url,omitempty"`
	CommitCount int      `json:"commit_count,omitempty"`
	Commits     []commit `json:"commits,omitempty"` // the first few, for the release card
	PreviousTag string   `json:"previous_tag,omitempty"`

	Checklist map[string]tick `json:"checklist,omitempty"`

	ApprovalRequest *approvalRequest `json:"approval_request,omitempty"`
	Approval        *approval        `json:"approval,omitempty"`
	Rejection       *rejection       `json:"rejection,omitempty"`

	MergeSHA string     `json:"merge_sha,omitempty"`
	TagSHA   string     `json:"tag_sha,omitempty"`
	TaggedAt *time.Time `json:"tagged_at,omitempty"`
	// TagExisted: the version was tagged before this run (a re-deploy); its tag push started
	// no run for us, so the workflow is dispatched instead.
	TagExisted bool   `json:"tag_existed,omitempty"`
	ReleaseURL string `json:"release_url,omitempty"`

	DeploymentID   int64           `json:"deployment_id,omitempty"`
	DispatchedAt   *time.Time      `json:"dispatched_at,omitempty"`
	WorkflowRunID  int64           `json:"workflow_run_id,omitempty"`
	WorkflowRunURL string          `json:"workflow_run_url,omitempty"`
	JobsReported   map[string]bool `json:"jobs_reported,omitempty"` // completed jobs, by ID
	// WorkflowRunSeen is the run's UpdatedAt when its jobs were last read; JobCount how many
	// there were.
	WorkflowRunSeen *time.Time `json:"workflow_run_seen,omitempty"`
	JobCount        int        `json:"job_count,omitempty"`

	// Verified is how the post-deployment verification ended (verifiedPassed, verifiedFailed,
	// verifiedUnchecked); empty until it ends. A passed or unchecked run makes its version
	// stable in the environment.
	Verified string `json:"verified,omitempty"`
	// AutoRollback is the rollback opsbot started after this deploy failed verification.
	AutoRollback *autoRollback `json:"auto_rollback,omitempty"`
	// NextStable is, on a rollback that failed verification, the next older stable version
	// ("" when there is none).
	NextStable string `json:"next_stable,omitempty"`

	CancelledBy string `json:"cancelled_by,omitempty"`
}

type commit struct {
	SHA     string `json:"sha"`
	Message string `json:"message"`
	Author  string `json:"author,omitempty"`
}

// tick is a checklist item done, by a person or by the bot with its evidence.
type tick struct {
	By       string    `json:"by"` // Slack user ID, or "" for the bot
	At       time.Time `json:"at"`
	Evidence string    `json:"evidence,omitempty"`
}

// approvalRequest is the approval currently asked for: for one SHA, the Seq-th time.
type approvalRequest struct {
	SHA string    `json:"sha"`
	Seq int       `json:"seq"`
	At  time.Time `json:"at"`
}

type approval struct {
	By  string    `json:"by"`
	At  time.Time `json:"at"`
	SHA string    `json:"sha"`
}

type rejection struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

func decodeData(run store.Run) (runData, error) { return store.DecodeRecord[runData](run) }

func encodeData(run *store.Run, d runData) error { return store.EncodeRecord(run, d) }

// updateData records a change to a run's record, re-reading it first (optimistic concurrency).
func updateData(ctx context.Context, st store.Store, id int64, mutate func(*store.Run, *runData) error) (store.Run, runData, error) {
	return store.UpdateRecord(ctx, st, id, mutate)
}

// updateNamedRun is updateData for the run a button or form names. Its value is not trusted:
// a run that does not exist is the person's to hear about, not an internal error.
func updateNamedRun(ctx context.Context, st store.Store, id int64, mutate func(*store.Run, *runData) error) (store.Run, runData, error) {
	run, d, err := updateData(ctx, st, id, mutate)
	if errors.Is(err, store.ErrNotFound) {
		return run, d, chat.Refuse("That deploy does not exist.")
	}
	return run, d, err
}

// shortSHA is the 7-character form people read.
func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// releaseKey identifies the release run of a version, so /release twice shows the first.
func (s *Service) releaseKey(version string) string {
	return "release:" + s.cfg.GitHub.Repository + ":" + version
}

func (s *Service) branchFor(version string) string {
	return s.cfg.GitHub.ReleaseBranchPrefix + version
}

func envLock(env string) string { return "env:" + env }

// say returns a chat message whose text is formatted.
func say(format string, args ...any) chat.Message { return chat.Text(format, args...) }
