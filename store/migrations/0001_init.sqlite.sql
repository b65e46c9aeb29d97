-- The first schema. Kept in step with 0001_init.postgres.sql: the same tables, columns and
-- indexes, in SQLite's types.
--
-- Times are Unix nanoseconds (UTC). Optional unique keys are NULL when absent. The predicate
-- of the partial indexes, state IN ('running', 'waiting'), must read exactly as the queries
-- write it (activeStates in runs.go) for SQLite to use them.

CREATE TABLE runs (
	id           INTEGER PRIMARY KEY,
	kind         TEXT    NOT NULL,
	key          TEXT    UNIQUE,
	env          TEXT    NOT NULL,
	state        TEXT    NOT NULL,
	requested_by TEXT    NOT NULL,
	channel      TEXT    NOT NULL,
	title        TEXT    NOT NULL,
	data         TEXT,
	steps        TEXT,
	wake_at      INTEGER,
	lock_name    TEXT    NOT NULL,
	version      INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	finished_at  INTEGER,
	lease_owner  TEXT    NOT NULL,
	lease_until  INTEGER
) STRICT;

CREATE INDEX runs_due ON runs (wake_at) WHERE state IN ('running', 'waiting');
CREATE INDEX runs_state ON runs (state, id);
CREATE INDEX runs_env ON runs (env, id);

CREATE TABLE locks (
	name   TEXT    PRIMARY KEY,
	run_id INTEGER NOT NULL UNIQUE REFERENCES runs (id),
	since  INTEGER NOT NULL
) STRICT;

CREATE TABLE run_events (
	id     INTEGER PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs (id),
	at     INTEGER NOT NULL,
	kind   TEXT    NOT NULL,
	actor  TEXT    NOT NULL,
	text   TEXT    NOT NULL,
	key    TEXT,
	data   TEXT,
	UNIQUE (run_id, key)
) STRICT;

CREATE INDEX run_events_order ON run_events (run_id, at, id);

CREATE TABLE audit (
	id      INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL,
	actor   TEXT    NOT NULL,
	action  TEXT    NOT NULL,
	run_id  INTEGER NOT NULL,
	outcome TEXT    NOT NULL,
	detail  TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_run ON audit (run_id, id);

CREATE TABLE outbox (
	id          INTEGER PRIMARY KEY,
	key         TEXT    NOT NULL UNIQUE,
	op          TEXT    NOT NULL,
	upsert      INTEGER NOT NULL,
	channel     TEXT    NOT NULL,
	user_id     TEXT    NOT NULL,
	thread_of   TEXT    NOT NULL,
	text        TEXT    NOT NULL,
	blocks      TEXT,
	state       TEXT    NOT NULL,
	ts          TEXT    NOT NULL,
	attempts    INTEGER NOT NULL,
	next_at     INTEGER NOT NULL,
	last_error  TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	sent_at     INTEGER,
	revision    INTEGER NOT NULL,
	lease_owner TEXT    NOT NULL,
	lease_until INTEGER
) STRICT;

CREATE INDEX outbox_pending ON outbox (channel, id) WHERE state = 'pending';

CREATE TABLE deliveries (
	key TEXT    PRIMARY KEY,
	at  INTEGER NOT NULL
) STRICT;
