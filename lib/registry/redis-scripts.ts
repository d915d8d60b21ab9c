/**
 * The Lua scripts of the cluster registry (redis-registry.ts): each runs atomically in Redis, in
 * one round trip. Keys are built here from the prefix: one Redis, not a Redis Cluster.
 */

/*
 * The keys, under `<prefix>presence:`. Names and clientIds hold no comma (lib/core/names.ts), so
 * lists are stored comma-joined.
 *   nodes              zset  nodeId → when its lease ends (ms, Redis's clock)
 *   node:<nodeId>      hash  connId → "<connectedAt>,<clientId>,<channel>,…"  (a node's connections)
 *   client:<clientId>  hash  "<nodeId>/<connId>" → connectedAt              (a client's connections)
 *   on:<clientId>      hash  channel → how many of the client's connections are on it
 *   clients            zset  (score 0, name order) clientIds with a connection
 *   channel:<name>     zset  (score 0) clientIds on the channel
 *   channels           zset  (score 0) channels with a subscriber
 *   subscribers        hash  channel → its connections
 *   connections        string  open connections in all
 *   seq, changes       the number of the last change; a stream of changes, entry id "<seq>-0"
 * A change's fields: j join (1/0), c clientId, w whole (1/0), x channels changed, n channels now,
 * o channels occupied or vacated, t ms (Redis's clock).
 */

/** Lua shared by the scripts that write: the key helper, announcing a change, removing one connection. */
const WRITE_LIB = `
local p = ARGV[1] .. 'presence:'
local backlog = ARGV[2]
local function split (list)
  local items = {}
  for item in string.gmatch(list, '[^,]+') do items[#items + 1] = item end
  return items
end
local function announce (join, client, whole, changed, occupancy)
  local seq = redis.call('INCR', p .. 'seq')
  local now = redis.call('HKEYS', p .. 'on:' .. client)
  table.sort(now)
  local time = redis.call('TIME')
  redis.call('XADD', p .. 'changes', 'MAXLEN', '~', backlog, seq .. '-0',
    'j', join, 'c', client, 'w', whole and '1' or '0', 'x', table.concat(changed, ','), 'n', table.concat(now, ','),
    'o', table.concat(occupancy, ','), 't', time[1] .. string.format('%03d', math.floor(tonumber(time[2]) / 1000)))
end
local function remove (node, conn)
  local nodeKey = p .. 'node:' .. node
  local value = redis.call('HGET', nodeKey, conn)
  if not value then return end
  redis.call('HDEL', nodeKey, conn)
  local fields = split(value)
  local client = fields[2]
  local clientKey = p .. 'client:' .. client
  redis.call('HDEL', clientKey, node .. '/' .. conn)
  local whole = redis.call('EXISTS', clientKey) == 0
  if whole then redis.call('ZREM', p .. 'clients', client) end
  redis.call('DECR', p .. 'connections')
  local left, vacated = {}, {}
  for i = 3, #fields do
    local name = fields[i]
    if redis.call('HINCRBY', p .. 'on:' .. client, name, -1) <= 0 then
      redis.call('HDEL', p .. 'on:' .. client, name)
      redis.call('ZREM', p .. 'channel:' .. name, client)
      left[#left + 1] = name
    end
    if redis.call('HINCRBY', p .. 'subscribers', name, -1) <= 0 then
      redis.call('HDEL', p .. 'subscribers', name)
      redis.call('ZREM', p .. 'channels', name)
      vacated[#vacated + 1] = name
    end
  end
  if #left > 0 then announce('0', client, whole, left, vacated) end
end
`

/** ARGV: prefix, backlog, nodeId, connId, clientId, connectedAt, channels… Adding twice changes nothing. */
export const ADD_SCRIPT = WRITE_LIB + `
local node, conn, client, at = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local nodeKey = p .. 'node:' .. node
if redis.call('HEXISTS', nodeKey, conn) == 1 then return 0 end
local channels = {unpack(ARGV, 7)}
redis.call('HSET', nodeKey, conn, at .. ',' .. client .. ',' .. table.concat(channels, ','))
local clientKey = p .. 'client:' .. client
redis.call('HSET', clientKey, node .. '/' .. conn, at)
local whole = redis.call('HLEN', clientKey) == 1
if whole then redis.call('ZADD', p .. 'clients', 0, client) end
redis.call('INCR', p .. 'connections')
local entered, occupied = {}, {}
for _, name in ipairs(channels) do
  if redis.call('HINCRBY', p .. 'on:' .. client, name, 1) == 1 then
    redis.call('ZADD', p .. 'channel:' .. name, 0, client)
    entered[#entered + 1] = name
  end
  if redis.call('HINCRBY', p .. 'subscribers', name, 1) == 1 then
    redis.call('ZADD', p .. 'channels', 0, name)
    occupied[#occupied + 1] = name
  end
end
if #entered > 0 then announce('1', client, whole, entered, occupied) end
return 1
`

/** ARGV: prefix, backlog, nodeId, connId. Removing twice changes nothing. */
export const REMOVE_SCRIPT = WRITE_LIB + `
remove(ARGV[3], ARGV[4])
return 1
`

/**
 * Removes up to `limit` connections of a node whose lease ended (or of this node when it stops:
 * `force`), and the node once it has none. ARGV: prefix, backlog, nodeId, limit, force.
 * Returns the connections left, or -1 when the node renewed its lease meanwhile.
 */
export const REAP_SCRIPT = WRITE_LIB + `
local node = ARGV[3]
if ARGV[5] ~= '1' then
  local time = redis.call('TIME')
  local lease = redis.call('ZSCORE', p .. 'nodes', node)
  if lease and tonumber(lease) >= tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) then return -1 end
end
local nodeKey = p .. 'node:' .. node
local scan = redis.call('HSCAN', nodeKey, '0', 'COUNT', ARGV[4])
for i = 1, #scan[2], 2 do remove(node, scan[2][i]) end
local rest = redis.call('HLEN', nodeKey)
if rest == 0 then redis.call('ZREM', p .. 'nodes', node) end
return rest
`

/**
 * Renews a node's lease. ARGV: prefix, nodeId, lease (ms). Returns whether the lease had ended
 * or was gone (its connections may have been removed: the node must put them back), then the
 * nodes whose lease ended.
 */
export const RENEW_SCRIPT = `
local nodes = ARGV[1] .. 'presence:nodes'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = redis.call('ZSCORE', nodes, ARGV[2])
redis.call('ZADD', nodes, now + tonumber(ARGV[3]), ARGV[2])
local reply = {(not lease or tonumber(lease) < now) and 1 or 0}
for _, node in ipairs(redis.call('ZRANGEBYSCORE', nodes, '-inf', '(' .. now, 'LIMIT', 0, 16)) do reply[#reply + 1] = node end
return reply
`

/**
 * The clients of a view and the number of the last change they show. ARGV: prefix, then the
 * channels (none: every client). Returns seq, then clientId and comma-joined channels for each.
 */
export const SNAPSHOT_SCRIPT = `
local p = ARGV[1] .. 'presence:'
local ids = {}
if #ARGV == 1 then
  ids = redis.call('ZRANGE', p .. 'clients', 0, -1)
else
  local seen = {}
  for i = 2, #ARGV do
    for _, id in ipairs(redis.call('ZRANGE', p .. 'channel:' .. ARGV[i], 0, -1)) do
      if not seen[id] then
        seen[id] = true
        ids[#ids + 1] = id
      end
    end
  end
end
local reply = {redis.call('GET', p .. 'seq') or '0'}
for _, id in ipairs(ids) do
  local channels = redis.call('HKEYS', p .. 'on:' .. id)
  table.sort(channels)
  reply[#reply + 1] = id
  reply[#reply + 1] = table.concat(channels, ',')
end
return reply
`

/**
 * A page of a name-ordered set. ARGV: prefix, the set ('clients' or 'channel:<name>'), the key
 * after which the page starts ('' for the first), limit. Returns the size of the set, then per
 * client: clientId, connections, oldest connectedAt, comma-joined channels (one more than
 * `limit` when there is a next page).
 */
export const CLIENT_PAGE_SCRIPT = `
local p = ARGV[1] .. 'presence:'
local set = p .. ARGV[2]
local from = ARGV[3] == '' and '-' or '(' .. ARGV[3]
local reply = {redis.call('ZCARD', set)}
for _, id in ipairs(redis.call('ZRANGE', set, from, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[4]) + 1)) do
  local times = redis.call('HVALS', p .. 'client:' .. id)
  local oldest = tonumber(times[1])
  for i = 2, #times do oldest = math.min(oldest, tonumber(times[i])) end
  local channels = redis.call('HKEYS', p .. 'on:' .. id)
  table.sort(channels)
  reply[#reply + 1] = id
  reply[#reply + 1] = #times
  reply[#reply + 1] = oldest
  reply[#reply + 1] = table.concat(channels, ',')
end
return reply
`

/** A page of channels. ARGV: prefix, after ('' for the first), limit. Returns the count, then name and subscribers each. */
export const CHANNEL_PAGE_SCRIPT = `
local p = ARGV[1] .. 'presence:'
local from = ARGV[2] == '' and '-' or '(' .. ARGV[2]
local reply = {redis.call('ZCARD', p .. 'channels')}
for _, name in ipairs(redis.call('ZRANGE', p .. 'channels', from, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[3]) + 1)) do
  reply[#reply + 1] = name
  reply[#reply + 1] = redis.call('HGET', p .. 'subscribers', name)
end
return reply
`
