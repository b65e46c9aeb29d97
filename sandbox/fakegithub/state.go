package fakegithub

import (
	"time"
)

// state is the repository and the fake's bookkeeping; Server.mu guards it.
type state struct {
	commits     map[string]*commit
	tagObjects  map[string]*tagObject
	refs        map[string]string // full ref name → sha (a commit, or a tag object for annotated tags)
	pulls       []*PullRequest
	releases    []*Release
	checkRuns   []*checkRun
	statuses    []*commitStatus
	deployments []*Deployment
	runs        []*workflowRun
	merges      []Merge
	lastID      int64
	// featuresLanded counts the teammate's changes (Options.Teammate).
	featuresLanded int

	faults  map[Fault]int // remaining occurrences of each counted fault
	latency time.Duration
	calls   Calls
	rate    rateWindow
}

func (st *state) newID() int64 {
	st.lastID++
	return st.lastID
}

// PullRequest is a pull request as the fake holds it.
type PullRequest struct {
	Number         int
	Title, Body    string
	Author         string // login
	Head, Base     string // branch names
	HeadSHA        string // follows the head branch while the pull request is open
	State          string // "open" or "closed"
	Merged         bool
	MergeCommitSHA string
	Mergeable      bool // false: the branches conflict (merging answers 405)
	MergedBy       string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ClosedAt       time.Time // zero while open
	Reviews        []Review
	id             int64
}

// Review is a pull request review.
type Review struct {
	ID          int64
	Login       string
	State       string // APPROVED, CHANGES_REQUESTED or COMMENTED
	CommitID    string // the head sha it reviewed
	SubmittedAt time.Time
}

// Merge records one merged pull request.
type Merge struct {
	PullRequest int
	Method      string // merge, squash or rebase
	Base        string // the branch merged into
	SHA         string // the base branch's new head
	At          time.Time
}

// Tag is a tag ref; annotated tags point at a tag object, whose message it carries.
type Tag struct {
	Name      string
	SHA       string // the tagged commit
	Annotated bool
	Message   string
}

// Release is a GitHub release.
type Release struct {
	ID              int64
	TagName         string
	TargetCommitish string
	Name, Body      string
	Draft           bool
	Prerelease      bool
	Author          string
	CreatedAt       time.Time
	PublishedAt     time.Time // zero for drafts
}

// Deployment is a GitHub deployment with its statuses, oldest first.
type Deployment struct {
	ID          int64
	SHA, Ref    string
	Task        string
	Environment string
	Description string
	Payload     any
	Creator     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Statuses    []DeploymentStatus
}

// DeploymentStatus is one status of a deployment.
type DeploymentStatus struct {
	ID             int64
	State          string
	Description    string
	Environment    string
	LogURL         string
	EnvironmentURL string
	Creator        string
	CreatedAt      time.Time
}

type checkRun struct {
	id          int64
	sha         string
	name        string
	status      string // queued, in_progress or completed
	conclusion  string // set once completed
	startedAt   time.Time
	completedAt time.Time // zero until completed
}

type commitStatus struct {
	id          int64
	sha         string
	state       string // error, failure, pending or success
	context     string
	description string
	targetURL   string
	creator     string
	createdAt   time.Time
}
