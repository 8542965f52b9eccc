import { LUA_MEMBER } from "./lua-prelude.ts";

/**
 * Shard ownership over live processes, one atomic step in Redis (Redis TIME): a heartbeat
 * renews this process, drops the dead (past their failover timeout), gives their shards to live
 * ones and keeps the spread even, by the affinity. Every process reads the same owner table.
 *
 * KEYS: members (zset process → expiry ms), owners (hash shard → process), loads (hash process → load)
 * ARGV: process id, failover timeout ms, shard count, affinity, load, leave (1/0)
 * Reply: the owner of each shard, in shard order
 */
export const SHARD_LUA = `
${LUA_MEMBER}
local shards = tonumber(ARGV[3])
local affinity = ARGV[4]
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, p in ipairs(dead) do redis.call('HDEL', KEYS[3], p) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) end
if ARGV[6] == '1' then
  redis.call('ZREM', KEYS[1], pid)
  redis.call('HDEL', KEYS[3], pid)
else
  redis.call('ZADD', KEYS[1], now + ttl, pid)
  redis.call('HSET', KEYS[3], pid, ARGV[5])
end
for _, k in ipairs({KEYS[1], KEYS[2], KEYS[3]}) do redis.call('PEXPIRE', k, ttl * 4) end
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(members)
local n = #members
if n == 0 then
  redis.call('DEL', KEYS[2])
  return {}
end
local live, count, load = {}, {}, {}
for _, m in ipairs(members) do
  live[m] = true
  count[m] = 0
  load[m] = tonumber(redis.call('HGET', KEYS[3], m) or '0') or 0
end
local owner = {}
for s = 0, shards - 1 do
  local o = redis.call('HGET', KEYS[2], tostring(s))
  if affinity == 'round_robin' then o = members[(s % n) + 1] end
  if o and live[o] then
    owner[s] = o
    count[o] = count[o] + 1
  end
end
local function weight(m)
  if affinity == 'least_loaded' then return load[m] * shards + count[m] end
  return count[m]
end
local function lightest()
  local best = members[1]
  for _, m in ipairs(members) do if weight(m) < weight(best) then best = m end end
  return best
end
for s = 0, shards - 1 do
  if owner[s] == nil then
    local m = lightest()
    owner[s] = m
    count[m] = count[m] + 1
  end
end
-- Even spread: move one shard at a time from the fullest to the lightest, so a process that
-- joins takes over a fair part and nothing else moves.
if affinity ~= 'round_robin' then
  for _ = 1, shards do
    local full = members[1]
    for _, m in ipairs(members) do if count[m] > count[full] then full = m end end
    local light = lightest()
    if count[full] - count[light] <= 1 then break end
    for s = shards - 1, 0, -1 do
      if owner[s] == full then
        owner[s] = light
        count[full] = count[full] - 1
        count[light] = count[light] + 1
        break
      end
    end
  end
end
local out = {}
for s = 0, shards - 1 do
  redis.call('HSET', KEYS[2], tostring(s), owner[s])
  out[s + 1] = owner[s]
end
return out
`;
