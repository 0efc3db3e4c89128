// The Lua scripts behind RedisSemaphore. Every change to the shared state is
// one of these scripts, so each runs atomically on the Redis server. Each one
// first reads the server's clock (`TIME`, so no client's clock matters), then
// reclaims expired holders and waiters, then does its own work; whenever units
// come free it grants the head of the line at once, inside the script.
//
// Keys (one hash tag, so all of them live in one Redis Cluster slot):
//   KEYS[1] leases  ZSET    id -> lease expiry (ms, server clock), holders and waiters
//   KEYS[2] used    STRING  units held now (the holders' weights added up)
//   KEYS[3] queue   ZSET    waiter id -> arrival number: the line, FIFO
//   KEYS[4] seq     STRING  the last arrival number given out
// An id in `leases` is a waiter while it is in `queue`, a holder after.
//
// Ids are "<instance>:<weight>:<n>": <instance> names one subscriber
// connection (one per process and client), <weight> the units it takes. A
// grant is published on the channel ARGV[1] .. <instance>, with the granted
// ids separated by spaces, so each process hears only about its own waiters.
//
// Every script takes ARGV[1] = channel base and ARGV[2] = limit; the rest
// differ. Keys that would hold nothing (used = 0, seq with an empty line) are
// deleted, so an idle limiter leaves nothing behind in Redis.

const prelude = `
local leases, usedKey, queue, seqKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local chanBase = ARGV[1]
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function weightOf(id)
  return tonumber(string.match(id, '^[^:]+:(%d+):')) or 1
end

-- The units held, read once and written back once, at the end (saveUsed).
local usedValue = nil
local usedDirty = false
local function used()
  if usedValue == nil then usedValue = tonumber(redis.call('GET', usedKey) or '0') end
  return usedValue
end
local function addUsed(delta)
  usedValue = used() + delta
  usedDirty = true
end
local function saveUsed()
  if not usedDirty then return end
  if usedValue > 0 then redis.call('SET', usedKey, usedValue) else redis.call('DEL', usedKey) end
end

-- Every id granted during this script, in order. The release and cancel
-- scripts return it and set \`replyTo\` to their caller's instance: the
-- caller admits its own waiters from the reply, so no message is published
-- to it; every other process hears through its channel.
local granted = {}
local replyTo = nil

local function publish(from)
  local groups = {}
  for i = from, #granted do
    local id = granted[i]
    local inst = string.match(id, '^[^:]+')
    if inst ~= replyTo then
      if groups[inst] then groups[inst] = groups[inst] .. ' ' .. id else groups[inst] = id end
    end
  end
  for inst, message in pairs(groups) do redis.call('PUBLISH', chanBase .. inst, message) end
end

-- Admits the head of the line while it fits; never skips a head that does
-- not. A granted waiter keeps its lease: its process renews waiters and
-- holders in the same sweep.
local function grant()
  local before = #granted
  local head
  while true do
    head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then break end
    local w = weightOf(head)
    if used() + w > limit then break end
    redis.call('ZREM', queue, head)
    addUsed(w)
    granted[#granted + 1] = head
  end
  if #granted > before then
    publish(before + 1)
    if not head then redis.call('DEL', seqKey) end
  end
end

-- Drops holders and waiters whose lease ran out (their process died or
-- stalled for longer than its lease), then serves the line if that freed room.
local function reclaim()
  local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
  if #expired == 0 then return end
  local freed, lapsed = 0, 0
  for _, id in ipairs(expired) do
    if redis.call('ZREM', queue, id) == 1 then lapsed = lapsed + 1 else freed = freed + weightOf(id) end
  end
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  if freed > 0 then addUsed(-freed) end
  if lapsed > 0 and redis.call('ZCARD', queue) == 0 then redis.call('DEL', seqKey) end
  grant()
end

-- Gives a holder's units back; true if it was still a holder (not a waiter).
local function releaseHolder(id)
  if redis.call('ZSCORE', queue, id) then return false end
  if redis.call('ZREM', leases, id) == 0 then return false end
  addUsed(-weightOf(id))
  return true
end
`;

/**
 * ARGV[3] id, ARGV[4] leaseMs, ARGV[5] maxQueue (-1: none). Returns 1
 * (granted now), {0, ms until the earliest lease runs out} (queued), or 2
 * (the line is full). Running it twice (a resend after a reconnect) answers
 * from the state the first run left.
 */
export const acquireScript = `${prelude}
reclaim()
local id, lease, maxQueue = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local result
if redis.call('ZSCORE', leases, id) then
  if redis.call('ZSCORE', queue, id) then result = {0, -1} else result = 1 end
else
  local waiting = redis.call('ZCARD', queue)
  local weight = weightOf(id)
  if waiting == 0 and used() + weight <= limit then
    redis.call('ZADD', leases, now + lease, id)
    addUsed(weight)
    result = 1
  elseif maxQueue >= 0 and waiting >= maxQueue then
    result = 2
  else
    redis.call('ZADD', queue, redis.call('INCR', seqKey), id)
    redis.call('ZADD', leases, now + lease, id)
    local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
    result = {0, tonumber(first[2]) - now}
  end
end
saveUsed()
return result
`;

/**
 * ARGV[3] id. Returns {1 if it was released or 0 if it was no longer held
 * (lease lost), then the ids granted}.
 */
export const releaseScript = `${prelude}
replyTo = string.match(ARGV[3], '^[^:]+')
reclaim()
local released = 0
if releaseHolder(ARGV[3]) then
  released = 1
  grant()
end
saveUsed()
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
replyTo = string.match(ARGV[3], '^[^:]+')
reclaim()
local id = ARGV[3]
local status = 0
local head = redis.call('ZRANGE', queue, 0, 0)[1]
if redis.call('ZREM', queue, id) == 1 then
  redis.call('ZREM', leases, id)
  status = 1
  if head == id then
    grant()
    if redis.call('ZCARD', queue) == 0 then redis.call('DEL', seqKey) end
  elseif redis.call('ZCARD', queue) == 0 then
    redis.call('DEL', seqKey)
  end
elseif releaseHolder(id) then
  status = 2
  grant()
end
saveUsed()
table.insert(granted, 1, status)
return granted
`;

/**
 * ARGV[3] leaseMs, ARGV[4..] ids of this process's holders and waiters.
 * Extends each lease and returns, per id, 1 (holder), 2 (waiter) or 0 (gone:
 * its lease had run out), followed by the ms until the earliest lease runs out
 * (-1 if none), so a process with waiters can come back right then to reclaim
 * a crashed holder's units.
 */
export const renewScript = `${prelude}
reclaim()
local expiry = now + tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', leases, id) then
    redis.call('ZADD', leases, expiry, id)
    if redis.call('ZSCORE', queue, id) then out[#out + 1] = 2 else out[#out + 1] = 1 end
  else
    out[#out + 1] = 0
  end
end
saveUsed()
local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
if first[2] then out[#out + 1] = tonumber(first[2]) - now else out[#out + 1] = -1 end
return out
`;

/** The four keys of a limiter named `key`, with a hash tag for Redis Cluster. */
export function keysOf(key: string): string[] {
  const base = `doorman:{${key}}`;
  return [`${base}:leases`, `${base}:used`, `${base}:queue`, `${base}:seq`];
}

/** The prefix of the grant channels of a limiter named `key` (the instance id follows). */
export function channelBaseOf(key: string): string {
  return `doorman:{${key}}:grant:`;
}
