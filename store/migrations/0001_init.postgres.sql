-- The first schema. Kept in step with 0001_init.sqlite.sql: the same tables, columns and
-- indexes, in PostgreSQL's types.
--
-- Times are Unix nanoseconds (UTC), as in SQLite, so that every query is shared; read one
-- with to_timestamp(created_at / 1e9). Optional unique keys are NULL when absent.

CREATE TABLE runs (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind         TEXT    NOT NULL,
	key          TEXT    UNIQUE,
	env          TEXT    NOT NULL,
	state        TEXT    NOT NULL,
	requested_by TEXT    NOT NULL,
	channel      TEXT    NOT NULL,
	title        TEXT    NOT NULL,
	data         JSONB,
	steps        JSONB,
	wake_at      BIGINT,
	lock_name    TEXT    NOT NULL,
	version      BIGINT  NOT NULL,
	created_at   BIGINT  NOT NULL,
	updated_at   BIGINT  NOT NULL,
	finished_at  BIGINT,
	lease_owner  TEXT    NOT NULL,
	lease_until  BIGINT
);

CREATE INDEX runs_due ON runs (wake_at) WHERE state IN ('running', 'waiting');
CREATE INDEX runs_state ON runs (state, id);
CREATE INDEX runs_env ON runs (env, id);

CREATE TABLE locks (
	name   TEXT    PRIMARY KEY,
	run_id BIGINT  NOT NULL UNIQUE REFERENCES runs (id),
	since  BIGINT  NOT NULL
);

CREATE TABLE run_events (
	id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id BIGINT  NOT NULL REFERENCES runs (id),
	at     BIGINT  NOT NULL,
	kind   TEXT    NOT NULL,
	actor  TEXT    NOT NULL,
	text   TEXT    NOT NULL,
	key    TEXT,
	data   JSONB,
	UNIQUE (run_id, key)
);

CREATE INDEX run_events_order ON run_events (run_id, at, id);

CREATE TABLE audit (
	id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at      BIGINT  NOT NULL,
	actor   TEXT    NOT NULL,
	action  TEXT    NOT NULL,
	run_id  BIGINT  NOT NULL,
	outcome TEXT    NOT NULL,
	detail  TEXT    NOT NULL
);

CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_run ON audit (run_id, id);

CREATE TABLE outbox (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key         TEXT    NOT NULL UNIQUE,
	op          TEXT    NOT NULL,
	upsert      BOOLEAN NOT NULL,
	channel     TEXT    NOT NULL,
	user_id     TEXT    NOT NULL,
	thread_of   TEXT    NOT NULL,
	text        TEXT    NOT NULL,
	blocks      JSONB,
	state       TEXT    NOT NULL,
	ts          TEXT    NOT NULL,
	attempts    BIGINT  NOT NULL,
	next_at     BIGINT  NOT NULL,
	last_error  TEXT    NOT NULL,
	created_at  BIGINT  NOT NULL,
	sent_at     BIGINT,
	revision    BIGINT  NOT NULL,
	lease_owner TEXT    NOT NULL,
	lease_until BIGINT
);

CREATE INDEX outbox_pending ON outbox (channel, id) WHERE state = 'pending';

CREATE TABLE deliveries (
	key TEXT    PRIMARY KEY,
	at  BIGINT  NOT NULL
);
