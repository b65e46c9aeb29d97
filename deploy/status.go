package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/store"
)

// Status lists the releases and deploys in progress with the step each is at.
func (s *Service) Status(ctx context.Context) (chat.Message, error) {
	runs, err := s.opts.Store.ListRuns(ctx, store.RunQuery{
		Kinds: []store.RunKind{store.KindRelease, store.KindDeploy, store.KindRollback}, Active: true, Limit: 20,
	})
	if err != nil {
		return chat.Message{}, fmt.Errorf("listing runs in progress: %w", err)
	}
	if len(runs) == 0 {
		return say("Nothing is being released or deployed right now."), nil
	}
	lines := []string{"*In progress*"}
	for _, r := range runs {
		lines = append(lines, fmt.Sprintf("• *%s* — %s · %s %s", r.Title, describeState(r), requesterOf(r.RequestedBy), chat.Date(r.CreatedAt)))
	}
	return say("%s", strings.Join(lines, "\n")), nil
}

// History lists the last ten deploys and rollbacks, of one environment or of all.
func (s *Service) History(ctx context.Context, env string) (chat.Message, error) {
	if env != "" {
		if _, err := s.environment(env); err != nil {
			return chat.Message{}, err
		}
	}
	runs, err := s.opts.Store.ListRuns(ctx, store.RunQuery{
		Kinds: []store.RunKind{store.KindDeploy, store.KindRollback}, Env: env, Limit: 10,
	})
	if err != nil {
		return chat.Message{}, fmt.Errorf("listing deploys: %w", err)
	}
	where := "any environment"
	if env != "" {
		where = env
	}
	if len(runs) == 0 {
		return say("No deploys to %s yet.", where), nil
	}
	lines := []string{fmt.Sprintf("*Last %d deploys to %s*", len(runs), where)}
	for _, r := range runs {
		took := ""
		if r.FinishedAt != nil {
			took = " · took " + chat.Duration(r.FinishedAt.Sub(r.CreatedAt))
		}
		lines = append(lines, fmt.Sprintf("• %s %s · %s · %s %s%s", outcomeIcon(r), r.Title, describeState(r), requesterOf(r.RequestedBy), chat.Date(r.CreatedAt), took))
	}
	return say("%s", strings.Join(lines, "\n")), nil
}

// ReleaseStatus describes a release (the newest one when version is empty).
func (s *Service) ReleaseStatus(ctx context.Context, version string) (chat.Message, error) {
	if version != "" {
		run, err := s.opts.Store.GetRunByKey(ctx, s.releaseKey(version))
		if errors.Is(err, store.ErrNotFound) {
			return chat.Message{}, chat.Refuse("There is no release %s; start it with /release %s.", version, version)
		}
		if err != nil {
			return chat.Message{}, fmt.Errorf("reading release %s: %w", version, err)
		}
		return s.describeRelease(run)
	}
	runs, err := s.opts.Store.ListRuns(ctx, store.RunQuery{Kinds: []store.RunKind{store.KindRelease}, Limit: 1})
	if err != nil {
		return chat.Message{}, fmt.Errorf("reading the newest release: %w", err)
	}
	if len(runs) == 0 {
		return say("No release has been started with opsbot yet. Start one with /release vX.Y.Z."), nil
	}
	return s.describeRelease(runs[0])
}

func outcomeIcon(r store.Run) string {
	switch r.State {
	case store.RunSucceeded:
		return "✅"
	case store.RunFailed:
		return "❌"
	case store.RunCancelled:
		return "⏹"
	}
	return "🔄"
}
