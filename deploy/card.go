package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/store"
)

// stepTitles are the names the card shows.
var stepTitles = map[string]string{
	stepBranch:        "Release branch",
	stepPullRequest:   "Pull request",
	stepCommits:       "Commits",
	stepReleaseBranch: "Release branch",
	stepCI:            "CI",
	stepSoak:          "Soak",
	stepReview:        "Code review",
	stepChecklist:     "Checklist",
	stepApproval:      "Approval",
	stepMerge:         "Merge",
	stepTag:           "Tag & release",
	stepWorkflow:      "Production workflow",
	stepVerification:  "Verification",
	stepStableTag:     "Stable tag",
}

func cardKey(run store.Run) string { return fmt.Sprintf("run:%d:card", run.ID) }

// postCard queues the run's status card: posted once, then updated in place.
func (s *Service) postCard(ctx context.Context, run store.Run) error {
	d, err := decodeData(run)
	if err != nil {
		return err
	}
	var msg chat.Message
	if run.Kind == store.KindRelease {
		msg = renderReleaseCard(run, d)
	} else {
		msg = s.renderDeployCard(run, d)
	}
	return chat.Queue(ctx, s.opts.Store, store.OutboxMessage{Key: cardKey(run), Upsert: true, Channel: run.Channel}, msg, s.now())
}

// postThread queues a reply in the run's thread, once per key.
func (s *Service) postThread(ctx context.Context, run store.Run, key string, msg chat.Message) error {
	return chat.Queue(ctx, s.opts.Store, store.OutboxMessage{Key: fmt.Sprintf("run:%d:%s", run.ID, key), ThreadOf: cardKey(run), Channel: run.Channel}, msg, s.now())
}

// upsertThread queues a reply in the run's thread that later calls update in place.
func (s *Service) upsertThread(ctx context.Context, run store.Run, key string, msg chat.Message) error {
	return chat.Queue(ctx, s.opts.Store, store.OutboxMessage{Key: fmt.Sprintf("run:%d:%s", run.ID, key), Upsert: true, ThreadOf: cardKey(run), Channel: run.Channel}, msg, s.now())
}

// renderDeployCard is the card of a deploy or a rollback run.
func (s *Service) renderDeployCard(run store.Run, d runData) chat.Message {
	header := fmt.Sprintf("🚀 *Deploy %s → %s*", d.Version, run.Env)
	text := fmt.Sprintf("Deploy %s → %s: %s", d.Version, run.Env, describeState(run))
	ref := []string{d.Branch}
	if d.BranchSHA != "" {
		ref = append(ref, shortSHA(d.BranchSHA))
	}
	if d.PRURL != "" {
		ref = append(ref, chat.Link(d.PRURL, fmt.Sprintf("PR #%d", d.PR)))
	}
	requested := "requested by " + requesterOf(run.RequestedBy)
	if o := d.RollbackOf; o != nil {
		header = fmt.Sprintf("↩️ *Roll back %s → %s*", run.Env, d.Version)
		text = fmt.Sprintf("Roll back %s → %s: %s", run.Env, d.Version, describeState(run))
		ref = []string{fmt.Sprintf("from %s (run #%d)", o.Version, o.RunID)}
		if o.Auto {
			requested = fmt.Sprintf("started by opsbot: %s failed verification (auto_rollback)", o.Version)
		}
	}
	if outcome := s.deployOutcome(run, d); outcome != "" {
		header += "\n" + outcome
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(chat.Mrkdwn(header), nil, nil),
		slack.NewContextBlock("", chat.Mrkdwn(fmt.Sprintf("%s · %s · %s", requested, chat.Date(run.CreatedAt), strings.Join(ref, " · ")))),
		slack.NewSectionBlock(chat.Mrkdwn(chat.StepLines(run.Steps, stepTitles)), nil, nil),
	}
	if table := verificationTable(run); table != "" {
		blocks = append(blocks, slack.NewSectionBlock(chat.Mrkdwn(table), nil, nil))
	}
	switch {
	case !run.State.Final():
		what := "deploy"
		if run.Kind == store.KindRollback {
			what = "rollback"
		}
		cancel := slack.NewButtonBlockElement(actionCancel, fmt.Sprint(run.ID), chat.Plain("Cancel"))
		cancel.Confirm = slack.NewConfirmationBlockObject(chat.Plain("Cancel this "+what+"?"),
			chat.Mrkdwn(fmt.Sprintf("Stop the %s of *%s* to *%s*. A workflow run in progress is cancelled too.", what, d.Version, run.Env)),
			chat.Plain("Cancel "+what), chat.Plain("Keep going"))
		cancel.Style = slack.StyleDanger
		blocks = append(blocks, slack.NewActionBlock("deploy", cancel))
	case s.offersRollback(run, d):
		blocks = append(blocks, slack.NewActionBlock("deploy", rollbackButton(run.Env)))
	}
	return chat.Message{Text: text, Blocks: blocks}
}

// offersRollback reports whether a run's card offers a Roll back button: it failed
// verification, and opsbot is not rolling it back by itself.
func (s *Service) offersRollback(run store.Run, d runData) bool {
	if run.State != store.RunFailed || d.Verified != verifiedFailed {
		return false
	}
	auto := run.Kind == store.KindDeploy && s.stepEnv(run).AutoRollback
	return !auto || d.AutoRollback != nil && d.AutoRollback.RunID == 0
}

// rollbackButton offers a rollback of env (to its last stable version, after a confirmation).
func rollbackButton(env string) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionRollback, env, chat.Plain("Roll back"))
	b.Style = slack.StyleDanger
	return b
}

// deployOutcome is the card's headline once the run has ended.
func (s *Service) deployOutcome(run store.Run, d runData) string {
	rollback := run.Kind == store.KindRollback
	switch run.State {
	case store.RunSucceeded:
		switch {
		case rollback && d.Verified == verifiedPassed:
			return fmt.Sprintf("✅ %s is back on %s, verified.", run.Env, d.Version)
		case rollback:
			return fmt.Sprintf("✅ %s is back on %s (no verification checks configured).", run.Env, d.Version)
		}
		return fmt.Sprintf("✅ %s is deployed to %s.", d.Version, run.Env)
	case store.RunCancelled:
		if d.CancelledBy != "" {
			return "⏹ Cancelled by " + chat.User(d.CancelledBy) + "."
		}
		return "⏹ Cancelled."
	case store.RunFailed:
		if d.Rejection != nil {
			return fmt.Sprintf("🛑 Rejected by %s: %s", chat.User(d.Rejection.By), chat.Escape(d.Rejection.Reason))
		}
		if d.Verified == verifiedFailed {
			return s.verificationOutcome(run, d)
		}
		for _, st := range run.Steps {
			if st.State == store.StepFailed {
				return fmt.Sprintf("❌ Failed at %s: %s", stepTitles[st.Name], st.Detail)
			}
		}
		return "❌ Failed."
	}
	return ""
}

// verificationOutcome is the red headline of a run that failed verification, with what comes
// next: the rollback under way, or the version to roll back to.
func (s *Service) verificationOutcome(run store.Run, d runData) string {
	detail := ""
	if st := run.StepByName(stepVerification); st != nil {
		detail = ": " + st.Detail
	}
	if run.Kind == store.KindRollback {
		line := fmt.Sprintf("🚨 *The rollback to %s failed verification too*%s.", d.Version, detail)
		if d.NextStable == "" {
			return line + fmt.Sprintf(" No older version passed verification in %s: fix forward.", run.Env)
		}
		return line + fmt.Sprintf(" The next older stable version is %s: `/rollback %s %s`.", d.NextStable, run.Env, d.NextStable)
	}
	line := fmt.Sprintf("🔴 *%s failed verification in %s*%s.", d.Version, run.Env, detail)
	switch a := d.AutoRollback; {
	case a != nil && a.RunID != 0:
		line += fmt.Sprintf("\n↩️ opsbot is rolling %s back to %s (auto_rollback): run #%d.", run.Env, a.Version, a.RunID)
	case a == nil && s.stepEnv(run).AutoRollback:
		line += "\n↩️ auto_rollback is on: opsbot is starting the rollback."
	}
	return line
}

// renderFailureAlert is the thread reply that tells the requester and the on-call that a run
// failed verification, with the evidence and what they can do.
func (s *Service) renderFailureAlert(run store.Run, d runData, st verification) chat.Message {
	var head []string // who is told, then what happened
	if run.RequestedBy != "" {
		head = append(head, chat.User(run.RequestedBy))
	}
	if m := s.cfg.Roles[config.RoleOnCall]; len(m.Users)+len(m.Groups) > 0 {
		head = append(head, s.opts.Roles.Holders(config.RoleOnCall))
	}
	if run.Kind == store.KindRollback {
		head = append(head, fmt.Sprintf("The rollback of %s to %s failed verification too.", run.Env, d.Version))
	} else {
		head = append(head, fmt.Sprintf("%s failed verification in %s.", d.Version, run.Env))
	}
	lines := []string{"🚨 " + strings.Join(head, " ")}
	for _, r := range st.Rows {
		if r.Verdict == verdictFailed && r.Failures > 0 {
			lines = append(lines, fmt.Sprintf("• *%s*: %s", r.Name, chat.Escape(r.Why)))
		}
	}
	var next string
	switch {
	case run.Kind == store.KindRollback && d.NextStable != "":
		next = fmt.Sprintf("The next older stable version is %s: roll back to it with `/rollback %s %s`, or fix forward.", d.NextStable, run.Env, d.NextStable)
	case run.Kind == store.KindRollback:
		next = fmt.Sprintf("No older version passed verification in %s: fix forward.", run.Env)
	case s.stepEnv(run).AutoRollback:
		next = fmt.Sprintf("auto_rollback is on for %s: opsbot rolls it back to its last stable version now.", run.Env)
	default:
		next = "Roll it back to the last stable version:"
	}
	lines = append(lines, next)
	blocks := []slack.Block{slack.NewSectionBlock(chat.Mrkdwn(strings.Join(lines, "\n")), nil, nil)}
	if run.Kind == store.KindDeploy && !s.stepEnv(run).AutoRollback {
		blocks = append(blocks, slack.NewActionBlock("rollback", rollbackButton(run.Env)))
	}
	return chat.Message{Text: lines[0], Blocks: blocks}
}

// verificationTable is the verification's latest reading, one row per check, as the card shows
// it; "" before the first sample.
func verificationTable(run store.Run) string {
	st := run.StepByName(stepVerification)
	if st == nil || len(st.Data) == 0 {
		return ""
	}
	var v verification
	if json.Unmarshal(st.Data, &v) != nil || len(v.Rows) == 0 {
		return ""
	}
	// A code block, so that the columns line up.
	table := [][]string{{fmt.Sprintf("Verification (%s window)", chat.Duration(v.Ends.Sub(v.Started))), "value", "threshold", ""}}
	for _, r := range v.Rows {
		table = append(table, []string{r.Name, r.Value, r.Threshold, verdictIcon[r.Verdict]})
	}
	widths := make([]int, 3)
	for _, row := range table {
		for i := range widths {
			widths[i] = max(widths[i], utf8.RuneCountInString(row[i]))
		}
	}
	lines := make([]string, len(table))
	for i, row := range table {
		for j, w := range widths {
			row[j] += strings.Repeat(" ", w-utf8.RuneCountInString(row[j]))
		}
		lines[i] = strings.TrimRight(strings.Join(row, "  "), " ")
	}
	return "```\n" + chat.Escape(strings.Join(lines, "\n")) + "\n```"
}

// verdictIcon is a check's verdict as the cards show states.
var verdictIcon = map[string]string{verdictPassed: "✅", verdictFailed: "❌", verdictSkipped: "⏭"}

// requesterOf names who started a run: a person, or opsbot itself.
func requesterOf(userID string) string {
	if userID == "" {
		return "opsbot"
	}
	return chat.User(userID)
}

func renderReleaseCard(run store.Run, d runData) chat.Message {
	header := fmt.Sprintf("📦 *Release %s*", d.Version)
	switch run.State {
	case store.RunSucceeded:
		header += fmt.Sprintf("\n✅ Ready to deploy: `/deploy %s`", d.Version)
	case store.RunFailed:
		header += "\n❌ The release could not be prepared; see below."
	}
	ref := d.Branch
	if d.PRURL != "" {
		ref += " · " + chat.Link(d.PRURL, fmt.Sprintf("PR #%d", d.PR))
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(chat.Mrkdwn(header), nil, nil),
		slack.NewContextBlock("", chat.Mrkdwn(fmt.Sprintf("requested by %s · %s · %s", chat.User(run.RequestedBy), chat.Date(run.CreatedAt), ref))),
		slack.NewSectionBlock(chat.Mrkdwn(chat.StepLines(run.Steps, stepTitles)), nil, nil),
	}
	if len(d.Commits) > 0 {
		lines := []string{fmt.Sprintf("*In this release* (%d %s)", d.CommitCount, plural(d.CommitCount, "commit", "commits"))}
		for _, c := range d.Commits {
			line := fmt.Sprintf("• `%s` %s", shortSHA(c.SHA), chat.Escape(chat.Truncate(c.Message, 80)))
			if c.Author != "" {
				line += " — " + chat.Escape(c.Author)
			}
			lines = append(lines, line)
		}
		if more := d.CommitCount - len(d.Commits); more > 0 {
			lines = append(lines, fmt.Sprintf("… and %d more", more))
		}
		blocks = append(blocks, slack.NewSectionBlock(chat.Mrkdwn(strings.Join(lines, "\n")), nil, nil))
	}
	items := []string{"*Deployment checklist* (ticked during the deploy)"}
	for _, it := range checklist {
		items = append(items, "☐ "+it.Label)
	}
	blocks = append(blocks, slack.NewSectionBlock(chat.Mrkdwn(strings.Join(items, "\n")), nil, nil))
	return chat.Message{Text: fmt.Sprintf("Release %s: %s", d.Version, describeState(run)), Blocks: blocks}
}

// describeState says in a few words where a run is.
func describeState(run store.Run) string {
	switch run.State {
	case store.RunSucceeded:
		return "done"
	case store.RunFailed:
		return "failed"
	case store.RunCancelled:
		return "cancelled"
	}
	for _, st := range run.Steps {
		if st.State.Final() {
			continue
		}
		title := strings.ToLower(stepTitles[st.Name])
		switch {
		case st.State == store.StepWaiting && st.Wait == store.WaitPerson:
			return "waiting at " + title
		case st.State == store.StepWaiting && st.Wait == store.WaitBlocked:
			return "blocked at " + title
		case st.State == store.StepWaiting:
			return "waiting at " + title
		case st.State == store.StepRunning:
			return "at " + title
		}
		return "starting"
	}
	return "finishing"
}
