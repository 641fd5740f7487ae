"""The frontier's Lua scripts: every change of where an item is, and every claim, happens in one atomic step.

A run's keys are NAME:run:ID:PART (archive.frontier.store). An item's score in its queue is
-priority * 2^32 + an arrival number, so higher priorities come first and equal ones in order.
"""

from __future__ import annotations

__all__ = ["SCRIPTS"]

# A run is finished when nothing is queued and nothing leased: then it leaves its active set,
# its status says so, and it waits in NAME:drained until a worker has recorded it in the
# catalog (archive.frontier.store.Frontier.retire). Shared by the scripts that can be the last to touch a run.
_DRAINED = """
local function drained(p, run)
  local base = p .. ':run:' .. run
  if tonumber(redis.call('GET', base .. ':leased') or '0') > 0 then return false end
  if redis.call('ZCARD', base .. ':queue') > 0 then return false end
  local status = redis.call('HGET', base .. ':state', 'status')
  if status ~= 'running' and status ~= 'cancelled' then return false end
  redis.call('ZREM', p .. ':active:' .. (redis.call('HGET', base .. ':state', 'kind') or ''), run)
  redis.call('HSET', base .. ':state', 'status', status == 'cancelled' and 'cancelled-drained' or 'drained')
  redis.call('SADD', p .. ':drained', run)
  return true
end
local function parse(entry)
  return string.match(entry, '^([^\\n]*)\\n([^\\n]*)\\n(.*)$')
end
"""

# Queue an item; for a crawl request, first take its URL in the crawl's seen-sets and under its
# caps (its claim) and record its fingerprint, all in the same step as the push: a worker killed
# after finding a link but before queueing it has taken nothing, so whoever redoes its page
# finds the link new. 1 queued, 0 seen (claim or fingerprint), -1 over a cap, -2 run not running.
_PUSH = """
local p, run, data, priority, fp = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local claim, key, site, seed, again = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local max_pages, max_site, max_seed = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local base = p .. ':run:' .. run
if redis.call('HGET', base .. ':state', 'status') ~= 'running' then return -2 end
if fp ~= '' and redis.call('SISMEMBER', base .. ':dupefilter', fp) == 1 then return 0 end
if claim == 'discovery' then
  if redis.call('SISMEMBER', base .. ':pages', key) == 1 then return 0 end
  if redis.call('SADD', base .. ':discovery', key) == 0 then return 0 end
elseif claim == 'page' then
  if again ~= '1' and redis.call('SISMEMBER', base .. ':pages', key) == 1 then return 0 end
  if max_pages >= 0 and redis.call('SCARD', base .. ':pages') >= max_pages then return -1 end
  if max_site >= 0 and tonumber(redis.call('HGET', base .. ':per_site', site) or '0') >= max_site then return -1 end
  if max_seed >= 0 and tonumber(redis.call('HGET', base .. ':per_seed', seed) or '0') >= max_seed then return -1 end
  redis.call('SADD', base .. ':pages', key)
  redis.call('HINCRBY', base .. ':per_site', site, 1)
  redis.call('HINCRBY', base .. ':per_seed', seed, 1)
end
if fp ~= '' then redis.call('SADD', base .. ':dupefilter', fp) end
local seq = redis.call('INCR', p .. ':seq') % 4294967296
redis.call('ZADD', base .. ':queue', 'NX', -priority * 4294967296 + seq, data)
return 1
"""

_LEASE = """
local p, kind, worker = ARGV[1], ARGV[2], ARGV[3]
local runs = redis.call('ZRANGE', p .. ':active:' .. kind, 0, -1)
local n = #runs
if n == 0 then return false end
local start = redis.call('INCR', p .. ':rr') % n
for i = 0, n - 1 do
  local run = runs[((start + i) % n) + 1]
  local got = redis.call('ZPOPMIN', p .. ':run:' .. run .. ':queue')
  if #got > 0 then
    local id = redis.call('INCR', p .. ':lease-seq')
    redis.call('HSET', p .. ':inflight:' .. worker, id, run .. '\\n' .. got[2] .. '\\n' .. got[1])
    redis.call('INCR', p .. ':run:' .. run .. ':leased')
    return {tostring(id), run, got[1]}
  end
end
return false
"""

_ACK = (
    _DRAINED
    + """
local p, worker = ARGV[1], ARGV[2]
local finished = {}
for i = 3, #ARGV do
  local entry = redis.call('HGET', p .. ':inflight:' .. worker, ARGV[i])
  if entry then
    redis.call('HDEL', p .. ':inflight:' .. worker, ARGV[i])
    local run = parse(entry)
    redis.call('DECR', p .. ':run:' .. run .. ':leased')
    if drained(p, run) then table.insert(finished, run) end
  end
end
return finished
"""
)

# Put a worker's in-flight items back (dead, or stopping); `only_if_dead` re-checks its heartbeat
# inside the script, so a worker that came back just in time keeps what it holds, and answers
# -1 unless this call is the one that gives the worker up (two reapers at once: one of them).
_RELEASE = (
    _DRAINED
    + """
local p, worker, only_if_dead = ARGV[1], ARGV[2], ARGV[3]
if only_if_dead == '1' then
  if redis.call('EXISTS', p .. ':alive:' .. worker) == 1 then return {-1, {}} end
  if redis.call('HEXISTS', p .. ':workers', worker) == 0 then return {-1, {}} end
end
local entries = redis.call('HGETALL', p .. ':inflight:' .. worker)
local touched, finished = {}, {}
for i = 1, #entries, 2 do
  local run, score, data = parse(entries[i + 1])
  local base = p .. ':run:' .. run
  redis.call('DECR', base .. ':leased')
  if redis.call('HGET', base .. ':state', 'status') == 'running' then
    redis.call('ZADD', base .. ':queue', score, data)
  end
  touched[run] = true
end
for run, _ in pairs(touched) do
  if drained(p, run) then table.insert(finished, run) end
end
redis.call('DEL', p .. ':inflight:' .. worker)
if only_if_dead == '1' then redis.call('HDEL', p .. ':workers', worker) end
return {#entries / 2, finished}
"""
)

_CANCEL = (
    _DRAINED
    + """
local p, run = ARGV[1], ARGV[2]
local base = p .. ':run:' .. run
if redis.call('HGET', base .. ':state', 'status') ~= 'running' then return -1 end
redis.call('HSET', base .. ':state', 'status', 'cancelled')
local dropped = redis.call('ZCARD', base .. ':queue')
redis.call('DEL', base .. ':queue')
if drained(p, run) then return {dropped, 1} end
return {dropped, 0}
"""
)

_SETTLE = (
    _DRAINED
    + """
if drained(ARGV[1], ARGV[2]) then return 1 end
return 0
"""
)

# Politeness across workers: one timetable per host, on Redis's clock (workers' clocks may differ).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local after = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], after, 'PX', after - now + 60000)
return slot - now
"""


SCRIPTS = {
    "push": _PUSH,
    "lease": _LEASE,
    "ack": _ACK,
    "release": _RELEASE,
    "cancel": _CANCEL,
    "settle": _SETTLE,
    "reserve": _RESERVE,
}
