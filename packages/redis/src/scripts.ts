// The Lua scripts behind RedisSemaphore. Every change to the shared state is
// one of these scripts, so each runs atomically on the Redis server. Each one
// first reads the server's clock (`TIME`, so no client's clock matters), then
// reclaims expired holders and waiters, then does its own work; whenever units
// come free it grants the head of the line at once, inside the script.
//
// Keys (one hash tag, so all of them live in one Redis Cluster slot):
//   KEYS[1] holders  ZSET  permit id -> lease expiry (ms, server clock)
//   KEYS[2] used     STRING units held now (sum of the holders' weights)
//   KEYS[3] weights  HASH  id -> weight, for holders and waiters
//   KEYS[4] queue    ZSET  waiter id -> arrival number (the line, FIFO)
//   KEYS[5] wleases  ZSET  waiter id -> lease expiry (ms, server clock)
//   KEYS[6] seq      STRING the last arrival number given out
//
// Ids are "<instance>:<n>", where <instance> names one subscriber connection
// (one per process and client). A grant is published on the channel
// ARGV[1] .. <instance>, with the granted ids separated by spaces, so each
// process hears only about its own waiters.
//
// Every script takes ARGV[1] = channel base and ARGV[2] = limit; the rest
// differ. Keys that would hold nothing (used = 0, seq with an empty line) are
// deleted, so an idle limiter leaves nothing behind in Redis.

const prelude = `
if redis.replicate_commands then redis.replicate_commands() end
local holders, usedKey, weights, queue, wleases, seqKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local chanBase = ARGV[1]
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function getUsed()
  return tonumber(redis.call('GET', usedKey) or '0')
end

local function setUsed(u)
  if u > 0 then redis.call('SET', usedKey, u) else redis.call('DEL', usedKey) end
end

local function publish(ids)
  local groups = {}
  for _, id in ipairs(ids) do
    local inst = string.match(id, '^[^:]+')
    if groups[inst] then groups[inst] = groups[inst] .. ' ' .. id else groups[inst] = id end
  end
  for inst, message in pairs(groups) do redis.call('PUBLISH', chanBase .. inst, message) end
end

-- Admits the head of the line while it fits; never skips a head that does not.
-- A granted waiter keeps its current lease expiry as a holder: its process
-- renews waiters and holders in the same sweep, so the lease stays covered.
-- Every id granted during this script, in order: the scripts that free units
-- return it, so a process hears about its own waiters' grants in the reply
-- too (whichever comes first, the reply or the message, admits them).
local granted = {}

local function grant()
  local u = getUsed()
  local before = #granted
  while true do
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then break end
    local w = tonumber(redis.call('HGET', weights, head) or '1')
    if u + w > limit then break end
    local expiry = redis.call('ZSCORE', wleases, head) or now
    redis.call('ZREM', queue, head)
    redis.call('ZREM', wleases, head)
    redis.call('ZADD', holders, expiry, head)
    u = u + w
    granted[#granted + 1] = head
  end
  if #granted > before then
    setUsed(u)
    local fresh = {}
    for i = before + 1, #granted do fresh[#fresh + 1] = granted[i] end
    publish(fresh)
  end
  if redis.call('ZCARD', queue) == 0 then redis.call('DEL', seqKey) end
end

-- Drops holders and waiters whose lease ran out (their process died or
-- stalled for longer than its lease), then serves the line if that freed room.
local function reclaim()
  local changed = false
  local expired = redis.call('ZRANGEBYSCORE', holders, '-inf', now)
  if #expired > 0 then
    local freed = 0
    for _, id in ipairs(expired) do
      freed = freed + tonumber(redis.call('HGET', weights, id) or '0')
      redis.call('HDEL', weights, id)
    end
    redis.call('ZREMRANGEBYSCORE', holders, '-inf', now)
    setUsed(getUsed() - freed)
    changed = true
  end
  local lapsed = redis.call('ZRANGEBYSCORE', wleases, '-inf', now)
  if #lapsed > 0 then
    for _, id in ipairs(lapsed) do
      redis.call('ZREM', queue, id)
      redis.call('HDEL', weights, id)
    end
    redis.call('ZREMRANGEBYSCORE', wleases, '-inf', now)
    changed = true
  end
  if changed then grant() end
end

-- Gives a holder's units back; true if it was still a holder.
local function releaseHolder(id)
  if redis.call('ZREM', holders, id) == 0 then return false end
  local w = tonumber(redis.call('HGET', weights, id) or '0')
  redis.call('HDEL', weights, id)
  setUsed(getUsed() - w)
  return true
end

reclaim()
`;

/**
 * ARGV[3] id, ARGV[4] weight, ARGV[5] leaseMs, ARGV[6] maxQueue (-1: none).
 * Returns 1 (granted now), {0, ms until the earliest holder's lease runs out
 * or -1} (queued), 2 (the line is full). Running it twice
 * (a resend after a reconnect) answers from the state the first run left.
 */
export const acquireScript = `${prelude}
local id, weight, lease, maxQueue = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('ZSCORE', holders, id) then return 1 end
if redis.call('ZSCORE', queue, id) then return {0, -1} end
local waiting = redis.call('ZCARD', queue)
local u = getUsed()
if waiting == 0 and u + weight <= limit then
  redis.call('ZADD', holders, now + lease, id)
  redis.call('HSET', weights, id, weight)
  setUsed(u + weight)
  return 1
end
if maxQueue >= 0 and waiting >= maxQueue then return 2 end
local seq = redis.call('INCR', seqKey)
redis.call('ZADD', queue, seq, id)
redis.call('ZADD', wleases, now + lease, id)
redis.call('HSET', weights, id, weight)
local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
if first[2] then return {0, tonumber(first[2]) - now} end
return {0, -1}
`;

/**
 * ARGV[3] id. Returns {1 if it was released or 0 if it was no longer held
 * (lease lost), then the ids granted}.
 */
export const releaseScript = `${prelude}
local released = 0
if releaseHolder(ARGV[3]) then
  released = 1
  grant()
end
table.insert(granted, 1, released)
return granted
`;

/**
 * ARGV[3] id: a waiter gives up (abort, timeout, close). Returns {1 if it left
 * the line, 2 if it had been granted meanwhile (the permit is released here,
 * so the next waiter gets it), 0 if it was in neither place; then the ids
 * granted}.
 */
export const cancelScript = `${prelude}
local id = ARGV[3]
local status = 0
local head = redis.call('ZRANGE', queue, 0, 0)[1]
if redis.call('ZREM', queue, id) == 1 then
  redis.call('ZREM', wleases, id)
  redis.call('HDEL', weights, id)
  status = 1
  if head == id then grant() else
    if redis.call('ZCARD', queue) == 0 then redis.call('DEL', seqKey) end
  end
elseif releaseHolder(id) then
  status = 2
  grant()
end
table.insert(granted, 1, status)
return granted
`;

/**
 * ARGV[3] leaseMs, ARGV[4..] ids of this process's holders and waiters.
 * Extends each lease and returns, per id, 1 (holder), 2 (waiter) or 0 (gone:
 * its lease had run out), followed by the ms until the earliest holder lease
 * runs out (-1 if none), so a process with waiters can come back right then to
 * reclaim a crashed holder's units.
 */
export const renewScript = `${prelude}
local expiry = now + tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', holders, id) then
    redis.call('ZADD', holders, expiry, id)
    out[#out + 1] = 1
  elseif redis.call('ZSCORE', wleases, id) then
    redis.call('ZADD', wleases, expiry, id)
    out[#out + 1] = 2
  else
    out[#out + 1] = 0
  end
end
local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
if first[2] then out[#out + 1] = tonumber(first[2]) - now else out[#out + 1] = -1 end
return out
`;

/** The six keys of a limiter named `key`, with a hash tag for Redis Cluster. */
export function keysOf(key: string): string[] {
  const base = `doorman:{${key}}`;
  return [
    `${base}:holders`,
    `${base}:used`,
    `${base}:weights`,
    `${base}:queue`,
    `${base}:wleases`,
    `${base}:seq`,
  ];
}

/** The prefix of the grant channels of a limiter named `key` (the instance id follows). */
export function channelBaseOf(key: string): string {
  return `doorman:{${key}}:grant:`;
}
