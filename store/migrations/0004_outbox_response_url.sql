-- A reply to a slash command or a click keeps the response_url Slack sent with it: while it is
-- fresh the reply goes there, unhurried by chat.postEphemeral's 100 a minute.
ALTER TABLE outbox ADD COLUMN response_url TEXT NOT NULL DEFAULT '';
