// The Lua scripts behind RedisSemaphore. Every change to the shared state is
// one of these scripts, so each runs atomically on the Redis server. Each one
// first reads the server's clock (`TIME`, so no client's clock matters), then
// heals the state if a key was lost, then reclaims expired holders and
// waiters, then does its own work; whenever units come free it grants the
// head of the line at once, inside the script.
//
// Keys (one hash tag, so all of them live in one Redis Cluster slot):
//   KEYS[1] leases  ZSET    member -> lease expiry (ms, server clock): a holder
//                           as its id, a waiter as '?' .. its id
//   KEYS[2] used    STRING  units held now: a cache of the holders' weights added up
//   KEYS[3] queue   ZSET    waiter id -> arrival number: the line, FIFO
//   KEYS[4] seq     STRING  the last arrival number given out
//
// Any one key may be lost (an allkeys-* eviction, a failover to a replica
// that lagged, a DEL) and the state heals without anyone's help:
//   leases lost: the holders are forgotten (used is reset to 0; each holder's
//     process finds its permit gone at its next renewal and flags it lost),
//     and every waiter in the line gets a fresh lease;
//   used lost:   it is counted again from the holders in leases;
//   queue lost:  each process puts its waiters back in line at its next
//     renewal (behind whoever arrived meanwhile); the leases of dead
//     processes' waiters simply run out;
//   seq lost:    the next arrival number continues after the last in line.
//
// Ids are "<instance>:<weight>:<n>": <instance> names one subscriber
// connection (one per process and client), <weight> the units it takes. A
// grant is published on the channel ARGV[1] .. <instance>, with the granted
// ids separated by spaces, so each process hears only about its own waiters.
//
// Every script takes ARGV[1] = channel base, ARGV[2] = limit and ARGV[3] =
// leaseMs; the rest differ. Keys that would hold nothing (used = 0, seq with
// an empty line) are deleted, so an idle limiter leaves nothing behind.

const prelude = `
local leases, usedKey, queue, seqKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local chanBase = ARGV[1]
local limit = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function weightOf(id)
  return tonumber(string.match(id, '^%??[^:]+:(%d+):')) or 1
end

-- The units held, read once and written back once, at the end (saveUsed).
local usedValue = nil
local usedDirty = false
local function used()
  if usedValue == nil then
    local stored = redis.call('GET', usedKey)
    if stored then
      usedValue = tonumber(stored)
    else
      -- Lost (or 0): count the holders. Without holders this is one ZRANGE
      -- of the waiters' leases, which only exist alongside holders.
      usedValue = 0
      for _, member in ipairs(redis.call('ZRANGE', leases, 0, -1)) do
        if string.byte(member, 1) ~= 63 then usedValue = usedValue + weightOf(member) end
      end
      if usedValue > 0 then usedDirty = true end
    end
  end
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

-- The next arrival number; if seq was lost while waiters are in line, it
-- continues after the last of them, so the line stays in arrival order.
local function nextSeq()
  local n = redis.call('INCR', seqKey)
  if n == 1 then
    local last = redis.call('ZRANGE', queue, -1, -1, 'WITHSCORES')[2]
    if last then
      n = tonumber(last) + 1
      redis.call('SET', seqKey, n)
    end
  end
  return n
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
-- not. A granted waiter's lease becomes a holder's, with the same expiry:
-- its process renews waiters and holders in the same sweep.
local function grant()
  local before = #granted
  local head
  while true do
    head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then break end
    local w = weightOf(head)
    if used() + w > limit then break end
    redis.call('ZREM', queue, head)
    local lease = redis.call('ZSCORE', leases, '?' .. head)
    redis.call('ZREM', leases, '?' .. head)
    redis.call('ZADD', leases, lease or (now + leaseMs), head)
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
  for _, member in ipairs(expired) do
    if string.byte(member, 1) == 63 then
      lapsed = lapsed + redis.call('ZREM', queue, string.sub(member, 2))
    else
      freed = freed + weightOf(member)
    end
  end
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  if freed > 0 then addUsed(-freed) end
  if lapsed > 0 and redis.call('ZCARD', queue) == 0 then redis.call('DEL', seqKey) end
  grant()
end

-- Gives a holder's units back; true if it was still a holder.
local function releaseHolder(id)
  if redis.call('ZREM', leases, id) == 0 then return false end
  addUsed(-weightOf(id))
  return true
end

-- leases lost while units were counted or waiters stood in line: the
-- holders are gone (so nothing is held), and the waiters get a fresh lease
-- and are served at once, as far as the limit goes.
if redis.call('EXISTS', leases) == 0 then
  redis.call('DEL', usedKey)
  usedValue = 0
  local line = redis.call('ZRANGE', queue, 0, -1)
  for _, id in ipairs(line) do redis.call('ZADD', leases, now + leaseMs, '?' .. id) end
  if #line > 0 then grant() end
else
  used() -- counts the holders again if \`used\` was lost
end
`;

/**
 * ARGV[4] id, ARGV[5] maxQueue (-1: none). Returns 1 (granted now), {0, ms
 * until the earliest lease runs out} (queued), or 2 (the line is full).
 * Running it twice (a resend after a reconnect) answers from the state the
 * first run left.
 */
export const acquireScript = `${prelude}
reclaim()
local id, maxQueue = ARGV[4], tonumber(ARGV[5])
local result
if redis.call('ZSCORE', leases, id) then
  result = 1
elseif redis.call('ZSCORE', leases, '?' .. id) then
  if not redis.call('ZSCORE', queue, id) then redis.call('ZADD', queue, nextSeq(), id) end
  result = {0, -1}
else
  local waiting = redis.call('ZCARD', queue)
  local weight = weightOf(id)
  if waiting == 0 and used() + weight <= limit then
    redis.call('ZADD', leases, now + leaseMs, id)
    addUsed(weight)
    result = 1
  elseif maxQueue >= 0 and waiting >= maxQueue then
    result = 2
  else
    redis.call('ZADD', queue, nextSeq(), id)
    redis.call('ZADD', leases, now + leaseMs, '?' .. id)
    local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
    result = {0, tonumber(first[2]) - now}
  end
end
saveUsed()
return result
`;

/**
 * ARGV[4..] ids of holders this process gives back (those of one turn of its
 * event loop). Returns {how many were still held (the others' leases were
 * lost), then the ids granted}.
 */
export const releaseScript = `${prelude}
replyTo = string.match(ARGV[4], '^[^:]+')
reclaim()
local released = 0
for i = 4, #ARGV do
  if releaseHolder(ARGV[i]) then released = released + 1 end
end
if released > 0 then grant() end
saveUsed()
table.insert(granted, 1, released)
return granted
`;

/**
 * ARGV[4] id: a waiter gives up (abort, timeout, close). Returns {1 if it left
 * the line, 2 if it had been granted meanwhile (the permit is released here,
 * so the next waiter gets it), 0 if it was in neither place; then the ids
 * granted}.
 */
export const cancelScript = `${prelude}
replyTo = string.match(ARGV[4], '^[^:]+')
reclaim()
local id = ARGV[4]
local status = 0
local head = redis.call('ZRANGE', queue, 0, 0)[1]
local waited = redis.call('ZREM', leases, '?' .. id)
if redis.call('ZREM', queue, id) == 1 then
  status = 1
  if head == id then grant() end
  if redis.call('ZCARD', queue) == 0 then redis.call('DEL', seqKey) end
elseif waited == 1 then
  status = 1
elseif releaseHolder(id) then
  status = 2
  grant()
end
saveUsed()
table.insert(granted, 1, status)
return granted
`;

/**
 * ARGV[4..] ids of this process's holders and waiters. Extends each lease
 * and returns, per id, 1 (holder), 2 (waiter) or 0 (gone: its lease had run
 * out), followed by the ms until the earliest lease runs out (-1 if none), so
 * a process with waiters can come back right then to reclaim a crashed
 * holder's units. A waiter missing from the line (the line was lost) is put
 * back at its end; one missing its lease (leases was lost) gets a new one.
 */
export const renewScript = `${prelude}
reclaim()
local expiry = now + leaseMs
local rejoined = false
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', leases, id) then
    redis.call('ZADD', leases, expiry, id)
  elseif redis.call('ZSCORE', queue, id) then
    redis.call('ZADD', leases, expiry, '?' .. id)
  elseif redis.call('ZSCORE', leases, '?' .. id) then
    redis.call('ZADD', leases, expiry, '?' .. id)
    redis.call('ZADD', queue, nextSeq(), id)
    rejoined = true
  end
end
if rejoined then grant() end
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', leases, id) then out[#out + 1] = 1
  elseif redis.call('ZSCORE', queue, id) then out[#out + 1] = 2
  else out[#out + 1] = 0 end
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
