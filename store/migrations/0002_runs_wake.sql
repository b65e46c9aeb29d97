-- The runner claims every run with a wake-up time: active runs, and final ones whose end it
-- has not told yet (runner.Runner: a crash between recording the end and updating the card).
-- The predicate must read as the queries write it (wake_at IS NOT NULL) for SQLite to use it.
CREATE INDEX runs_wake ON runs (wake_at) WHERE wake_at IS NOT NULL;
