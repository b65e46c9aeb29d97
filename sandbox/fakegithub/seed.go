package fakegithub

import (
	"time"
)

// seed builds the history the package comment describes, relative to now: an initial commit,
// #1 and #2 squash-merged into main and released as v0.9.0, develop branched from it with #3
// closed and #4–#7 squash-merged, and #8 left open.
func (s *Server) seed(now time.Time) {
	s.commits = map[string]*commit{}
	s.tagObjects = map[string]*tagObject{}
	s.refs = map[string]string{}
	s.faults = map[Fault]int{}
	s.calls.ByRoute = map[string]int{}
	day := 24 * time.Hour

	initial := s.newCommit(nil, "Initial commit", "alice", now.Add(-60*day))
	s.setRef("refs/heads/main", initial.sha)
	s.runCI(initial.sha, initial.date)
	s.seedMergedPull("Add CSV export of dashboards", "alice", "feature/csv-export", "main", now.Add(-20*day))
	s.seedMergedPull("Add daily report job", "bob", "feature/daily-report", "main", now.Add(-10*day))

	released := now.Add(-8 * day)
	mainHead := s.refs["refs/heads/main"]
	name, email := gitIdentity("bob")
	tag := s.newTagObject("v0.9.0", "Release v0.9.0", mainHead, name, email, released)
	s.setRef("refs/tags/v0.9.0", tag.sha)
	notes := s.releaseNotes("v0.9.0", "main", "")
	s.releases = append(s.releases, &Release{
		ID: s.newID(), TagName: "v0.9.0", TargetCommitish: "main", Name: notes.name, Body: notes.body,
		Author: "bob", CreatedAt: released, PublishedAt: released,
	})
	s.startRun("push", "v0.9.0", mainHead, "v0.9.0", nil, released)
	s.seedDeployment(mainHead, "v0.9.0", "production", released.Add(time.Minute))

	s.setRef("refs/heads/develop", mainHead)
	graphql := s.newCommit([]string{mainHead}, "Try the GraphQL API for reports", "dave", now.Add(-7*day))
	s.setRef("refs/heads/feature/graphql", graphql.sha)
	closed := s.addPull("Try the GraphQL API for reports", "", "dave", "feature/graphql", "develop", now.Add(-7*day))
	closed.State, closed.ClosedAt, closed.UpdatedAt = "closed", now.Add(-6*day), now.Add(-6*day)
	delete(s.refs, "refs/heads/feature/graphql")
	s.seedMergedPull("Add Slack notifications for failed imports", "alice", "feature/import-alerts", "develop", now.Add(-5*day))
	s.seedMergedPull("Fix time zone in daily report", "bob", "fix/report-timezone", "develop", now.Add(-3*day))
	s.seedMergedPull("Bump pgx to v5.12.0", "carol", "deps/pgx", "develop", now.Add(-2*day))
	s.seedMergedPull("Cache dashboard queries in Redis", "dave", "feature/query-cache", "develop", now.Add(-26*time.Hour))
	s.seedDeployment(s.refs["refs/heads/develop"], "develop", "development", now.Add(-25*time.Hour))

	pdf := s.newCommit([]string{s.refs["refs/heads/develop"]}, "Export dashboards as PDF", "carol", now.Add(-20*time.Hour))
	s.setRef("refs/heads/feature/pdf-export", pdf.sha)
	s.runCI(pdf.sha, pdf.date)
	conflicting := s.addPull("Export dashboards as PDF", "Adds a PDF button to every dashboard.", "carol",
		"feature/pdf-export", "develop", now.Add(-20*time.Hour))
	conflicting.Mergeable = false

	s.merges = nil // Merges reports what happens after the seed.
}

// seedMergedPull lands a one-commit pull request from branch into base at the given time,
// approved by a colleague and squash-merged by them.
func (s *Server) seedMergedPull(title, author, branch, base string, at time.Time) {
	feature := s.newCommit([]string{s.refs["refs/heads/"+base]}, title, author, at.Add(-3*time.Hour))
	s.setRef("refs/heads/"+branch, feature.sha)
	pr := s.addPull(title, "", author, branch, base, at.Add(-2*time.Hour))
	reviewer := map[string]string{"alice": "bob", "bob": "carol", "carol": "dave", "dave": "alice"}[author]
	pr.Reviews = append(pr.Reviews, Review{
		ID: s.newID(), Login: reviewer, State: "APPROVED", CommitID: feature.sha, SubmittedAt: at.Add(-time.Hour),
	})
	s.merge(pr, "squash", "", "", at)
	pr.MergedBy = reviewer
	delete(s.refs, "refs/heads/"+branch)
}

// seedDeployment records a deployment made by the deploy workflow that succeeded.
func (s *Server) seedDeployment(sha, ref, environment string, at time.Time) {
	d := &Deployment{
		ID: s.newID(), SHA: sha, Ref: ref, Task: "deploy", Environment: environment,
		Creator: "github-actions[bot]", CreatedAt: at, UpdatedAt: at,
	}
	s.deployments = append(s.deployments, d)
	s.addDeploymentStatus(d, DeploymentStatus{State: "in_progress", Environment: environment, Creator: d.Creator}, at)
	s.addDeploymentStatus(d, DeploymentStatus{State: "success", Environment: environment, Creator: d.Creator},
		at.Add(2*time.Minute))
}
