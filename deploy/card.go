package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/chat"
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
	return s.enqueue(ctx, store.OutboxMessage{Key: cardKey(run), Upsert: true, Channel: run.Channel}, msg)
}

// postThread queues a reply in the run's thread, once per key.
func (s *Service) postThread(ctx context.Context, run store.Run, key string, msg chat.Message) error {
	return s.enqueue(ctx, store.OutboxMessage{Key: fmt.Sprintf("run:%d:%s", run.ID, key), ThreadOf: cardKey(run), Channel: run.Channel}, msg)
}

// upsertThread queues a reply in the run's thread that later calls update in place.
func (s *Service) upsertThread(ctx context.Context, run store.Run, key string, msg chat.Message) error {
	return s.enqueue(ctx, store.OutboxMessage{Key: fmt.Sprintf("run:%d:%s", run.ID, key), Upsert: true, ThreadOf: cardKey(run), Channel: run.Channel}, msg)
}

func (s *Service) enqueue(ctx context.Context, m store.OutboxMessage, msg chat.Message) error {
	blocks, err := msg.BlocksJSON()
	if err != nil {
		return err
	}
	m.Op, m.Text, m.Blocks, m.NextAt = store.OpPost, msg.Text, blocks, s.now()
	if _, err := s.opts.Store.Enqueue(ctx, m); err != nil {
		return fmt.Errorf("queueing %s: %w", m.Key, err)
	}
	return nil
}

func (s *Service) renderDeployCard(run store.Run, d runData) chat.Message {
	header := fmt.Sprintf("🚀 *Deploy %s → %s*", d.Version, run.Env)
	outcome := deployOutcome(run, d)
	if outcome != "" {
		header += "\n" + outcome
	}
	ref := []string{d.Branch}
	if d.BranchSHA != "" {
		ref = append(ref, shortSHA(d.BranchSHA))
	}
	if d.PRURL != "" {
		ref = append(ref, chat.Link(d.PRURL, fmt.Sprintf("PR #%d", d.PR)))
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(header), nil, nil),
		slack.NewContextBlock("", mrkdwn(fmt.Sprintf("requested by %s · %s · %s", chat.User(run.RequestedBy), slackDate(run.CreatedAt), strings.Join(ref, " · ")))),
		slack.NewSectionBlock(mrkdwn(stepLines(run)), nil, nil),
	}
	if !run.State.Final() {
		cancel := slack.NewButtonBlockElement(actionCancel, fmt.Sprint(run.ID), plain("Cancel"))
		cancel.Confirm = slack.NewConfirmationBlockObject(plain("Cancel this deploy?"),
			mrkdwn(fmt.Sprintf("Stop the deploy of *%s* to *%s*. A workflow run in progress is cancelled too.", d.Version, run.Env)),
			plain("Cancel deploy"), plain("Keep going"))
		cancel.Style = slack.StyleDanger
		blocks = append(blocks, slack.NewActionBlock("deploy", cancel))
	}
	text := fmt.Sprintf("Deploy %s → %s: %s", d.Version, run.Env, describeState(run))
	return chat.Message{Text: text, Blocks: blocks}
}

// deployOutcome is the card's headline once the run has ended.
func deployOutcome(run store.Run, d runData) string {
	switch run.State {
	case store.RunSucceeded:
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
		for _, st := range run.Steps {
			if st.State == store.StepFailed {
				return fmt.Sprintf("❌ Failed at %s: %s", stepTitles[st.Name], st.Detail)
			}
		}
		return "❌ Failed."
	}
	return ""
}

// stepLines lists the steps with their state; the steps not started yet after the current one
// share one line, as they say nothing yet.
func stepLines(run store.Run) string {
	var lines, later []string
	for _, st := range run.Steps {
		title := stepTitles[st.Name]
		if st.State == store.StepPending {
			later = append(later, title)
			continue
		}
		line := fmt.Sprintf("%s *%s*", chat.StepIcon(st), title)
		if st.Detail != "" {
			line += " — " + st.Detail
		}
		lines = append(lines, line)
	}
	if len(later) > 0 {
		lines = append(lines, "· "+strings.Join(later, " · "))
	}
	return strings.Join(lines, "\n")
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
		slack.NewSectionBlock(mrkdwn(header), nil, nil),
		slack.NewContextBlock("", mrkdwn(fmt.Sprintf("requested by %s · %s · %s", chat.User(run.RequestedBy), slackDate(run.CreatedAt), ref))),
		slack.NewSectionBlock(mrkdwn(stepLines(run)), nil, nil),
	}
	if len(d.Commits) > 0 {
		lines := []string{fmt.Sprintf("*In this release* (%d commits)", d.CommitCount)}
		for _, c := range d.Commits {
			line := fmt.Sprintf("• `%s` %s", shortSHA(c.SHA), chat.Escape(truncate(c.Message, 80)))
			if c.Author != "" {
				line += " — " + chat.Escape(c.Author)
			}
			lines = append(lines, line)
		}
		if more := d.CommitCount - len(d.Commits); more > 0 {
			lines = append(lines, fmt.Sprintf("… and %d more", more))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(strings.Join(lines, "\n")), nil, nil))
	}
	items := []string{"*Deployment checklist* (ticked during the deploy)"}
	for _, it := range checklist {
		items = append(items, "☐ "+it.Label)
	}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(strings.Join(items, "\n")), nil, nil))
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

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// slackDate renders a date and time in each reader's own time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("Jan 2 15:04 UTC"))
}

// slackTime renders a time of day in each reader's own time zone, with a UTC fallback.
func slackTime(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{time}|%s>", t.Unix(), t.UTC().Format("15:04 UTC"))
}

// humanDuration is a duration as people say it: "25 h", "5 h 30 min", "12 min", "40 s".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 10*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	case d >= time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	case d >= time.Minute:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
