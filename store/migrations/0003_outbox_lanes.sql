-- A message waits for the earlier unsent messages of its lane, not of its whole channel: a new
-- post for the channel's earlier posts, an ephemeral reply for the earlier replies to the same
-- person in that channel. Replies paced to Slack's 100 chat.postEphemeral a minute no longer
-- hold up a deploy card or an incident update. ClaimOutbox finds a lane's earlier messages here.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (channel, op, user_id, id) WHERE state = 'pending';
