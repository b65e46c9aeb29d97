package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/store"
)

// deploy returns a minimal valid run; tests set the fields they care about.
func deploy(title string) store.Run {
	return store.Run{
		Kind:        store.KindDeploy,
		State:       store.RunRunning,
		RequestedBy: "U_ALICE",
		Channel:     "C_DEPLOYS",
		Title:       title,
	}
}

func (b *bundle) createRun(t *testing.T, r store.Run) store.Run {
	t.Helper()
	created, err := b.store.CreateRun(t.Context(), r)
	require.NoError(t, err)
	return created
}

func (b *bundle) updateRun(t *testing.T, id int64, mutate func(*store.Run)) store.Run {
	t.Helper()
	updated, err := b.store.UpdateRun(t.Context(), id, func(r *store.Run) error {
		mutate(r)
		return nil
	})
	require.NoError(t, err)
	return updated
}

func testCreateRun(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	t.Run("StoresEveryFieldAndReadsItBack", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		r := store.Run{
			Kind:        store.KindRelease,
			Key:         "release:acme/analytics:v1.0.0",
			Env:         "production",
			State:       store.RunWaiting,
			RequestedBy: "U_ALICE",
			Channel:     "C_DEPLOYS",
			Title:       "Release v1.0.0",
			Data:        json.RawMessage(`{"version":"v1.0.0","sha":"a1b2c3d"}`),
			Steps: []store.Step{
				{Name: "branch", State: store.StepPassed, Detail: "cut from develop", Attempts: 1,
					StartedAt: ptr(start.Add(-time.Minute)), FinishedAt: ptr(start)},
				{Name: "approval", State: store.StepWaiting, Data: json.RawMessage(`{"group":"product-owners"}`)},
			},
			WakeAt:   ptr(start.Add(time.Hour)),
			LockName: "env:production",
		}

		created, err := b.store.CreateRun(t.Context(), r)
		require.NoError(t, err)

		require.NotZero(t, created.ID)
		require.Equal(t, int64(1), created.Version)
		require.Equal(t, start, created.CreatedAt)
		require.Equal(t, start, created.UpdatedAt)
		require.Nil(t, created.FinishedAt)
		require.Empty(t, created.LeaseOwner)
		require.Equal(t, start.Add(time.Hour), *created.WakeAt)
		requireJSONEq(t, r.Data, created.Data)
		requireJSONEq(t, r.Steps, created.Steps)
		want := r
		want.ID, want.Version, want.CreatedAt, want.UpdatedAt = created.ID, 1, start, start
		want.Data, want.Steps = created.Data, created.Steps // compared by meaning above
		require.Equal(t, want, created)

		got, err := b.store.GetRun(t.Context(), created.ID)
		require.NoError(t, err)
		require.Equal(t, created, got)
		got, err = b.store.GetRunByKey(t.Context(), r.Key)
		require.NoError(t, err)
		require.Equal(t, created, got)
	})

	t.Run("UnknownRunIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		_, err := b.store.GetRun(t.Context(), 404)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.store.GetRunByKey(t.Context(), "release:nope")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("DuplicateKeyIsRefusedAndTakesNoLock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		first := deploy("first")
		first.Key = "deploy:v1.0.0"
		b.createRun(t, first)

		second := deploy("second")
		second.Key = first.Key
		second.LockName = "env:staging"
		_, err := b.store.CreateRun(t.Context(), second)
		require.ErrorIs(t, err, store.ErrDuplicateKey)

		_, err = b.store.GetLock(t.Context(), "env:staging")
		require.ErrorIs(t, err, store.ErrNotFound)
		runs, err := b.store.ListRuns(t.Context(), store.RunQuery{})
		require.NoError(t, err)
		require.Len(t, runs, 1)
	})

	t.Run("RunsWithoutKeyDoNotCollide", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		one := b.createRun(t, deploy("one"))
		two := b.createRun(t, deploy("two"))
		require.NotEqual(t, one.ID, two.ID)
	})

	t.Run("RefusesRunsThatCouldNeverFinish", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name   string
			mutate func(*store.Run)
		}{
			{"NoKind", func(r *store.Run) { r.Kind = "" }},
			{"FinalState", func(r *store.Run) { r.State = store.RunSucceeded }},
			{"UnknownState", func(r *store.Run) { r.State = "runing" }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, newDatabase)
				r := deploy(tc.name)
				r.LockName = "env:production"
				tc.mutate(&r)
				_, err := b.store.CreateRun(t.Context(), r)
				require.Error(t, err)
				_, err = b.store.GetLock(t.Context(), r.LockName)
				require.ErrorIs(t, err, store.ErrNotFound)
			})
		}
	})
}

func testLocks(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	t.Run("CreateRunTakesTheLock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		r := deploy("deploy")
		r.LockName = "env:production"
		created := b.createRun(t, r)

		lock, err := b.store.GetLock(t.Context(), "env:production")
		require.NoError(t, err)
		require.Equal(t, store.Lock{Name: "env:production", RunID: created.ID, HeldBy: "U_ALICE", Since: start}, lock)
		require.Equal(t, "env:production", created.LockName)
	})

	t.Run("SecondRunIsRefusedNamingTheHolderAndCreatesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		first := deploy("first")
		first.LockName = "env:production"
		holder := b.createRun(t, first)

		b.clock.Advance(time.Minute)
		second := deploy("second")
		second.Key = "deploy:second"
		second.RequestedBy = "U_BOB"
		second.LockName = "env:production"
		_, err := b.store.CreateRun(t.Context(), second)

		var held *store.LockHeldError
		require.ErrorAs(t, err, &held)
		require.Equal(t, store.Lock{Name: "env:production", RunID: holder.ID, HeldBy: "U_ALICE", Since: start}, held.Lock)
		_, err = b.store.GetRunByKey(t.Context(), "deploy:second")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("ReachingAFinalStateReleasesTheLock", func(t *testing.T) {
		t.Parallel()
		for _, final := range []store.RunState{store.RunSucceeded, store.RunFailed, store.RunCancelled} {
			t.Run(string(final), func(t *testing.T) {
				t.Parallel()
				b := setup(t, newDatabase)
				r := deploy("first")
				r.LockName = "env:production"
				first := b.createRun(t, r)

				waiting := b.updateRun(t, first.ID, func(r *store.Run) { r.State = store.RunWaiting })
				_, err := b.store.GetLock(t.Context(), "env:production")
				require.NoError(t, err, "a run that is still active keeps its lock")

				done := b.updateRun(t, waiting.ID, func(r *store.Run) { r.State = final })
				_, err = b.store.GetLock(t.Context(), "env:production")
				require.ErrorIs(t, err, store.ErrNotFound)
				require.Equal(t, "env:production", done.LockName, "the run still says which lock it had")

				next := deploy("next")
				next.LockName = "env:production"
				b.createRun(t, next)
			})
		}
	})

	t.Run("FinalRunCannotBecomeActiveAgain", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		r := deploy("deploy")
		r.LockName = "env:production"
		created := b.createRun(t, r)
		b.updateRun(t, created.ID, func(r *store.Run) { r.State = store.RunFailed })

		_, err := b.store.UpdateRun(t.Context(), created.ID, func(r *store.Run) error {
			r.State = store.RunRunning
			return nil
		})
		require.Error(t, err)
		got, err := b.store.GetRun(t.Context(), created.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunFailed, got.State)
	})

	t.Run("ConcurrentCreatorsOnTwoReplicasHaveOneWinner", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		replicas := []store.Store{b.store, b.open()}
		const creators = 10
		errs := make([]error, creators)
		parallel(creators, func(i int) {
			r := deploy(fmt.Sprint("creator ", i))
			r.LockName = "env:production"
			_, errs[i] = replicas[i%2].CreateRun(t.Context(), r)
		})

		lock, err := b.store.GetLock(t.Context(), "env:production")
		require.NoError(t, err)
		winners := 0
		for _, err := range errs {
			var held *store.LockHeldError
			switch {
			case err == nil:
				winners++
			case errors.As(err, &held):
				require.Equal(t, lock, held.Lock)
			default:
				require.NoError(t, err)
			}
		}
		require.Equal(t, 1, winners)
		runs, err := b.store.ListRuns(t.Context(), store.RunQuery{})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		require.Equal(t, lock.RunID, runs[0].ID)
	})
}

func testUpdateRun(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	t.Run("StoresTheMutation", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		created := b.createRun(t, deploy("deploy"))
		b.clock.Advance(time.Minute)

		steps := []store.Step{{Name: "soak", State: store.StepWaiting, Detail: "5 h to go", Data: json.RawMessage(`{"due":"19:02"}`)}}
		updated := b.updateRun(t, created.ID, func(r *store.Run) {
			r.State = store.RunWaiting
			r.Env = "staging"
			r.Title = "Deploy v1.0.0 → staging"
			r.Data = json.RawMessage(`{"sha":"e4f5a6b"}`)
			r.Steps = steps
			r.WakeAt = ptr(start.Add(5 * time.Hour))
		})

		require.Equal(t, store.RunWaiting, updated.State)
		require.Equal(t, "staging", updated.Env)
		require.Equal(t, "Deploy v1.0.0 → staging", updated.Title)
		requireJSONEq(t, json.RawMessage(`{"sha":"e4f5a6b"}`), updated.Data)
		requireJSONEq(t, steps, updated.Steps)
		require.Equal(t, start.Add(5*time.Hour), *updated.WakeAt)
		require.Equal(t, int64(2), updated.Version)
		require.Equal(t, start, updated.CreatedAt)
		require.Equal(t, start.Add(time.Minute), updated.UpdatedAt)
		require.Nil(t, updated.FinishedAt)
		got, err := b.store.GetRun(t.Context(), created.ID)
		require.NoError(t, err)
		require.Equal(t, updated, got)
	})

	t.Run("KeepsTheFieldsTheStoreOwns", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		r := deploy("deploy")
		r.Key = "deploy:v1"
		r.LockName = "env:production"
		created := b.createRun(t, r)
		claimed, err := b.store.ClaimRuns(t.Context(), "replica-a", start, time.Minute, 10)
		require.NoError(t, err)
		require.Empty(t, claimed, "the run has no WakeAt yet")
		b.updateRun(t, created.ID, func(r *store.Run) { r.WakeAt = ptr(start) })
		claimed, err = b.store.ClaimRuns(t.Context(), "replica-a", start, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, claimed, 1)

		updated := b.updateRun(t, created.ID, func(r *store.Run) {
			r.ID, r.Kind, r.Key, r.LockName = 99, store.KindIncident, "other", "env:staging"
			r.Version, r.CreatedAt, r.UpdatedAt, r.FinishedAt = 42, start.Add(-time.Hour), start.Add(-time.Hour), ptr(start)
			r.LeaseOwner, r.LeaseUntil = "replica-b", nil
		})

		require.Equal(t, created.ID, updated.ID)
		require.Equal(t, store.KindDeploy, updated.Kind)
		require.Equal(t, "deploy:v1", updated.Key)
		require.Equal(t, "env:production", updated.LockName)
		require.Equal(t, int64(3), updated.Version)
		require.Equal(t, start, updated.CreatedAt)
		require.Nil(t, updated.FinishedAt)
		require.Equal(t, "replica-a", updated.LeaseOwner)
		require.Equal(t, claimed[0].LeaseUntil, updated.LeaseUntil)
	})

	t.Run("SetsFinishedAtWhenTheRunFirstEnds", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		created := b.createRun(t, deploy("deploy"))
		b.clock.Advance(time.Minute)
		done := b.updateRun(t, created.ID, func(r *store.Run) { r.State = store.RunSucceeded })
		require.Equal(t, start.Add(time.Minute), *done.FinishedAt)

		b.clock.Advance(time.Minute)
		later := b.updateRun(t, created.ID, func(r *store.Run) { r.Title = "postmortem linked" })
		require.Equal(t, start.Add(time.Minute), *later.FinishedAt)
		require.Equal(t, start.Add(2*time.Minute), later.UpdatedAt)
	})

	t.Run("MutateErrorIsReturnedAsIsAndNothingIsWritten", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		created := b.createRun(t, deploy("deploy"))
		refused := errors.New("approver is the requester")

		_, err := b.store.UpdateRun(t.Context(), created.ID, func(r *store.Run) error {
			r.State = store.RunFailed
			return refused
		})
		require.Same(t, refused, err)
		got, err := b.store.GetRun(t.Context(), created.ID)
		require.NoError(t, err)
		require.Equal(t, created, got)
	})

	t.Run("UnknownRunIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		_, err := b.store.UpdateRun(t.Context(), 404, func(*store.Run) error { return nil })
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("ConcurrentUpdatesOnTwoReplicasLoseNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		r := deploy("counter")
		r.Data = json.RawMessage(`{"n":0}`)
		created := b.createRun(t, r)
		replicas := []store.Store{b.store, b.open()}

		const writers, increments = 10, 5
		errs := make([]error, writers)
		parallel(writers, func(i int) {
			for range increments {
				_, err := replicas[i%2].UpdateRun(t.Context(), created.ID, func(r *store.Run) error {
					var counter struct{ N int }
					if err := json.Unmarshal(r.Data, &counter); err != nil {
						return err
					}
					counter.N++
					r.Data, _ = json.Marshal(map[string]int{"n": counter.N})
					return nil
				})
				if err != nil {
					errs[i] = err
					return
				}
			}
		})

		require.NoError(t, errors.Join(errs...))
		got, err := b.store.GetRun(t.Context(), created.ID)
		require.NoError(t, err)
		requireJSONEq(t, map[string]int{"n": writers * increments}, got.Data)
		require.Equal(t, int64(1+writers*increments), got.Version)
	})
}

func testListRuns(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	b := setup(t, newDatabase)
	seed := []struct {
		title string
		kind  store.RunKind
		env   string
		state store.RunState
	}{
		{"release", store.KindRelease, "", store.RunSucceeded},
		{"deploy staging", store.KindDeploy, "staging", store.RunSucceeded},
		{"deploy production", store.KindDeploy, "production", store.RunFailed},
		{"rollback production", store.KindRollback, "production", store.RunSucceeded},
		{"incident", store.KindIncident, "", store.RunWaiting},
		{"deploy production again", store.KindDeploy, "production", store.RunRunning},
	}
	ids := map[string]int64{}
	for _, s := range seed {
		r := deploy(s.title)
		r.Kind, r.Env = s.kind, s.env
		created := b.createRun(t, r)
		b.updateRun(t, created.ID, func(r *store.Run) { r.State = s.state })
		ids[s.title] = created.ID
		b.clock.Advance(time.Hour)
	}

	for _, tc := range []struct {
		name  string
		query store.RunQuery
		want  []string
	}{
		{"AllNewestFirst", store.RunQuery{}, []string{"deploy production again", "incident", "rollback production",
			"deploy production", "deploy staging", "release"}},
		{"Kinds", store.RunQuery{Kinds: []store.RunKind{store.KindDeploy, store.KindRollback}},
			[]string{"deploy production again", "rollback production", "deploy production", "deploy staging"}},
		{"History", store.RunQuery{Kinds: []store.RunKind{store.KindDeploy, store.KindRollback}, Env: "production"},
			[]string{"deploy production again", "rollback production", "deploy production"}},
		{"States", store.RunQuery{States: []store.RunState{store.RunSucceeded}},
			[]string{"rollback production", "deploy staging", "release"}},
		{"LastDeployThatEnded", store.RunQuery{Kinds: []store.RunKind{store.KindDeploy}, Env: "production",
			States: []store.RunState{store.RunSucceeded, store.RunFailed}, Limit: 1}, []string{"deploy production"}},
		{"Active", store.RunQuery{Active: true}, []string{"deploy production again", "incident"}},
		{"Since", store.RunQuery{Since: start.Add(4 * time.Hour)}, []string{"deploy production again", "incident"}},
		{"Limit", store.RunQuery{Limit: 2}, []string{"deploy production again", "incident"}},
		{"NextPage", store.RunQuery{BeforeID: ids["incident"], Limit: 2}, []string{"rollback production", "deploy production"}},
		{"NoMatch", store.RunQuery{Env: "qa"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runs, err := b.store.ListRuns(t.Context(), tc.query)
			require.NoError(t, err)
			var titles []string
			for _, r := range runs {
				titles = append(titles, r.Title)
			}
			require.Equal(t, tc.want, titles)
		})
	}
}

func testClaimRuns(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	t.Run("ClaimsDueRunsNobodyElseHolds", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		create := func(title string, state store.RunState, wakeAt *time.Time) store.Run {
			r := b.createRun(t, deploy(title))
			return b.updateRun(t, r.ID, func(r *store.Run) { r.State, r.WakeAt = state, wakeAt })
		}
		// Leased by another replica, once until later and once until before now.
		create("leased", store.RunRunning, ptr(start.Add(-time.Hour)))
		_, err := b.store.ClaimRuns(ctx, "replica-b", start, 5*time.Minute, 1)
		require.NoError(t, err)
		create("lease expired", store.RunRunning, ptr(start.Add(-time.Hour)))
		_, err = b.store.ClaimRuns(ctx, "replica-b", start.Add(-10*time.Minute), 5*time.Minute, 1)
		require.NoError(t, err)
		create("due", store.RunRunning, ptr(start.Add(-time.Minute)))
		create("due now, waiting", store.RunWaiting, ptr(start))
		create("not yet due", store.RunWaiting, ptr(start.Add(time.Second)))
		create("waiting on an event", store.RunWaiting, nil)
		create("finished and told", store.RunSucceeded, nil)
		create("finished, its end not told yet", store.RunFailed, ptr(start.Add(-time.Second)))

		claimed, err := b.store.ClaimRuns(ctx, "replica-a", start, time.Minute, 10)
		require.NoError(t, err)

		var titles []string
		for _, r := range claimed {
			titles = append(titles, r.Title)
			require.Equal(t, "replica-a", r.LeaseOwner)
			require.Equal(t, start.Add(time.Minute), *r.LeaseUntil)
		}
		require.Equal(t, []string{"lease expired", "due", "finished, its end not told yet", "due now, waiting"}, titles,
			"earliest wake first")
	})

	t.Run("TakesTheEarliestUpToTheLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		for i, wake := range []time.Duration{-time.Minute, -time.Hour, -time.Second} {
			r := b.createRun(t, deploy(fmt.Sprint("run ", i)))
			b.updateRun(t, r.ID, func(r *store.Run) { r.WakeAt = ptr(start.Add(wake)) })
		}
		claimed, err := b.store.ClaimRuns(t.Context(), "replica-a", start, time.Minute, 2)
		require.NoError(t, err)
		require.Len(t, claimed, 2)
		require.Equal(t, "run 1", claimed[0].Title)
		require.Equal(t, "run 0", claimed[1].Title)
	})

	t.Run("LeaseCanBeRenewedUntilAnotherOwnerTakesIt", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		r := b.createRun(t, deploy("deploy"))
		b.updateRun(t, r.ID, func(r *store.Run) { r.WakeAt = ptr(start) })
		_, err := b.store.ClaimRuns(ctx, "replica-a", start, time.Minute, 1)
		require.NoError(t, err)

		require.NoError(t, b.store.RenewLease(ctx, r.ID, "replica-a", start.Add(2*time.Minute)))
		claimed, err := b.store.ClaimRuns(ctx, "replica-b", start.Add(90*time.Second), time.Minute, 1)
		require.NoError(t, err)
		require.Empty(t, claimed, "the renewed lease still holds")

		claimed, err = b.store.ClaimRuns(ctx, "replica-b", start.Add(2*time.Minute), time.Minute, 1)
		require.NoError(t, err)
		require.Len(t, claimed, 1, "an expired lease can be claimed again")
		require.ErrorIs(t, b.store.RenewLease(ctx, r.ID, "replica-a", start.Add(5*time.Minute)), store.ErrLeaseLost)
		require.NoError(t, b.store.ReleaseLease(ctx, r.ID, "replica-a"), "releasing a lost lease is no error")
		got, err := b.store.GetRun(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, "replica-b", got.LeaseOwner, "nor does it take the lease from its new owner")

		require.NoError(t, b.store.ReleaseLease(ctx, r.ID, "replica-b"))
		claimed, err = b.store.ClaimRuns(ctx, "replica-a", start.Add(2*time.Minute), time.Minute, 1)
		require.NoError(t, err)
		require.Len(t, claimed, 1, "a released run can be claimed at once")
	})

	t.Run("TwoReplicasNeverClaimTheSameRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		const runs = 40
		for i := range runs {
			r := b.createRun(t, deploy(fmt.Sprint("run ", i)))
			b.updateRun(t, r.ID, func(r *store.Run) { r.WakeAt = ptr(start) })
		}
		replicas := []store.Store{b.store, b.open()}

		const claimers = 8
		claims := make([][]int64, claimers)
		errs := make([]error, claimers)
		parallel(claimers, func(i int) {
			for {
				claimed, err := replicas[i%2].ClaimRuns(t.Context(), fmt.Sprint("owner-", i), start, time.Minute, 3)
				if err != nil || len(claimed) == 0 {
					errs[i] = err
					return
				}
				for _, r := range claimed {
					claims[i] = append(claims[i], r.ID)
				}
			}
		})

		require.NoError(t, errors.Join(errs...))
		seen := map[int64]int{}
		for _, ids := range claims {
			for _, id := range ids {
				seen[id]++
			}
		}
		require.Len(t, seen, runs, "every due run is claimed")
		for id, n := range seen {
			require.Equal(t, 1, n, "run %d claimed %d times", id, n)
		}
	})
}

func testNextWakeAndCount(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	t.Run("NextWake", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		ctx := t.Context()
		next, err := b.store.NextWake(ctx)
		require.NoError(t, err)
		require.Nil(t, next, "nothing scheduled")

		wake := func(title string, at time.Time, state store.RunState) store.Run {
			r := b.createRun(t, deploy(title))
			return b.updateRun(t, r.ID, func(r *store.Run) { r.WakeAt, r.State = &at, state })
		}
		wake("later", start.Add(time.Hour), store.RunWaiting)
		told := b.createRun(t, deploy("finished and told"))
		b.updateRun(t, told.ID, func(r *store.Run) { r.WakeAt, r.State = nil, store.RunSucceeded })
		next, err = b.store.NextWake(ctx)
		require.NoError(t, err)
		require.Equal(t, start.Add(time.Hour), *next, "a run without a wake-up does not count")

		wake("soon", start.Add(time.Minute), store.RunRunning)
		next, err = b.store.NextWake(ctx)
		require.NoError(t, err)
		require.Equal(t, start.Add(time.Minute), *next)

		untold := wake("finished, its end not told yet", start.Add(30*time.Second), store.RunSucceeded)
		next, err = b.store.NextWake(ctx)
		require.NoError(t, err)
		require.Equal(t, start.Add(30*time.Second), *next, "a final run still to be told counts")
		b.updateRun(t, untold.ID, func(r *store.Run) { r.WakeAt = nil }) // told

		_, err = b.store.ClaimRuns(ctx, "replica-b", start.Add(time.Minute), 10*time.Minute, 1)
		require.NoError(t, err)
		next, err = b.store.NextWake(ctx)
		require.NoError(t, err)
		require.Equal(t, start.Add(11*time.Minute), *next, "a leased run is claimable when its lease ends")
	})

	t.Run("CountRunsByState", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newDatabase)
		counts, err := b.store.CountRuns(t.Context())
		require.NoError(t, err)
		require.Equal(t, map[store.RunState]int{store.RunRunning: 0, store.RunWaiting: 0, store.RunSucceeded: 0,
			store.RunFailed: 0, store.RunCancelled: 0}, counts)

		for _, state := range []store.RunState{store.RunRunning, store.RunRunning, store.RunWaiting, store.RunFailed} {
			r := b.createRun(t, deploy(string(state)))
			b.updateRun(t, r.ID, func(r *store.Run) { r.State = state })
		}
		counts, err = b.store.CountRuns(t.Context())
		require.NoError(t, err)
		require.Equal(t, map[store.RunState]int{store.RunRunning: 2, store.RunWaiting: 1, store.RunSucceeded: 0,
			store.RunFailed: 1, store.RunCancelled: 0}, counts)
	})
}
