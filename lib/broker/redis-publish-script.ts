/**
 * Publishes, in one round trip and atomically: numbers each batch from the shared counter,
 * records each event as its channel's last event and in its channel's history (a stream whose
 * entry ids are the seqs, each entry naming the previous seq of its channel), and appends each
 * batch to the delivery stream that every node reads. Several batches go in one call when they
 * were waiting for the previous call: a node reading the stream then finds them all at once.
 * Fails with NOEPOCH before the epoch exists (EPOCH_SCRIPT makes it).
 * Channel keys are built here from their family prefixes (lib/redis/keys.ts): one Redis, not a Redis Cluster.
 * A channel's history expires as a whole `historyTtl` after its last event. Past
 * `maxRetainedChannels` channels, the least recently published ones without a subscriber on any
 * node (the subscriber index the registry hands over) are forgotten, and the `forgotten` key keeps the
 * last seq they had: a channel published again names it as its previous seq, so that a resume
 * from before it is refused rather than given a hole.
 * Each delivery entry names its epoch: a node behind at a restart tells the old epoch's last
 * entries from the new one's first.
 * A batch may carry an Idempotency-Key (scoped to its publisher), checked and kept in the same
 * call as the publish, so that no two calls with one key can both publish: a key kept with the
 * same digest answers the id of the first publish's first event and publishes nothing; kept with
 * another digest, an empty string; else the batch is published and the key kept for its window.
 * Two batches of one call with one key publish once: the second finds the key the first kept.
 * KEYS: seq, epoch, delivery stream, channels by last seq, forgotten, the subscriber index.
 * ARGV: the prefixes of last-event, history and idempotency keys, now, historySize, backlog,
 * historyTtl, maxRetainedChannels, then for each batch its number of events, its key ('' for
 * none; a key is followed by the batch's digest and the window in ms) and channel, type, data for
 * each of its events. Returns the epoch and, for each batch, its first seq, or a string when it
 * was not published: the first id of a replay, or '' for a key kept with another batch.
 */
export const PUBLISH_SCRIPT = `
local lastPrefix, historyPrefix, idemPrefix, now, historySize = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local backlog, ttl, maxRetained = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local epoch = redis.call('GET', KEYS[2])
if not epoch then return redis.error_reply('NOEPOCH there is no epoch yet') end
local published, last = 0, 0

-- Numbers and stores the count events from ARGV[at] on and appends them to the delivery stream as
-- one entry; returns the first seq.
local function publish(count, at)
  local first = redis.call('INCRBY', KEYS[1], count) - count + 1
  local batch = {'p', now, 'e', epoch}
  for i = 0, count - 1 do
    local channel, kind, data = ARGV[at + 3 * i], ARGV[at + 1 + 3 * i], ARGV[at + 2 + 3 * i]
    local seq = first + i
    local lastKey = lastPrefix .. channel
    local previous = redis.call('HGET', lastKey, 's') or redis.call('GET', KEYS[5]) or '0'
    redis.call('HSET', lastKey, 's', seq, 't', kind, 'd', data, 'p', now)
    redis.call('ZADD', KEYS[4], seq, channel)
    if historySize > 0 then
      local historyKey = historyPrefix .. channel
      redis.call('XADD', historyKey, 'MAXLEN', historySize, seq .. '-0', 't', kind, 'd', data, 'p', now, 'v', previous)
      if ttl > 0 then redis.call('PEXPIRE', historyKey, ttl) end
    end
    local n = #batch
    batch[n + 1], batch[n + 2], batch[n + 3], batch[n + 4], batch[n + 5], batch[n + 6] = 'c', channel, 't', kind, 'd', data
  end
  redis.call('XADD', KEYS[3], 'MAXLEN', backlog, first .. '-0', unpack(batch))
  published = published + count
  last = first + count - 1
  return first
end

local reply = {epoch}
local at = 9
while at <= #ARGV do
  local count, key = tonumber(ARGV[at]), ARGV[at + 1]
  if key == '' then
    at = at + 2
    reply[#reply + 1] = publish(count, at)
  else
    local digest, window = ARGV[at + 2], ARGV[at + 3]
    at = at + 4
    key = idemPrefix .. key
    local kept = redis.call('GET', key)
    if not kept then
      local first = publish(count, at)
      redis.call('SET', key, digest .. ' ' .. epoch .. '-' .. first, 'PX', window)
      reply[#reply + 1] = first
    elseif string.sub(kept, 1, #digest + 1) == digest .. ' ' then
      reply[#reply + 1] = string.sub(kept, #digest + 2)
    else
      reply[#reply + 1] = ''
    end
  end
  at = at + 3 * count
end
local excess = published > 0 and redis.call('ZCARD', KEYS[4]) - maxRetained or 0
local looked = 0
while excess > 0 and looked < published + 16 do
  looked = looked + 1
  local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
  local channel, lastSeq = oldest[1], tonumber(oldest[2])
  if redis.call('HEXISTS', KEYS[6], channel) == 1 then
    redis.call('ZADD', KEYS[4], last, channel)
  else
    redis.call('DEL', lastPrefix .. channel, historyPrefix .. channel)
    redis.call('ZREM', KEYS[4], channel)
    if lastSeq > tonumber(redis.call('GET', KEYS[5]) or '0') then redis.call('SET', KEYS[5], lastSeq) end
    excess = excess - 1
  end
end
return reply
`

/** The reply of the publish script: the epoch, then each batch's first seq, or the first id of a replay, or '' for a reused key. */
export type PublishReply = [string, ...Array<number | string>]
