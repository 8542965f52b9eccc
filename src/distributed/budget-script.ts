import { LUA_MEMBER } from "./lua-prelude.ts";

/**
 * The one atomic step of a shared budget, run in Redis (so every process sees one order and one
 * clock, Redis TIME). A process calls it to renew its membership and to say what it uses and
 * wants; the answer is what it may hold and how many slots it owes back.
 *
 * KEYS: members (zset process → expiry ms), held (hash process → slots), want (hash process → slots)
 * ARGV: process id, ttl ms, budget, used, want, leave (1 = remove this process)
 * Reply: { granted, owe, processes, share, totalHeld, known } (known 0: this process was not a member,
 * its entry lapsed or Redis lost its data, so the others may not have re-registered yet)
 *
 * Fair share: budget ÷ live processes, the remainder to the first ids in sorted order. A process
 * may grow to its share from free slots, and beyond it only from slots no other live process is
 * owed (its unmet demand up to its share). A borrower learns it owes slots once someone is owed
 * more than is free; it pays them back as its connections come back. `held` never drops below
 * what a process says it uses: the slots it still has open stay counted until closed.
 */
export const BUDGET_SYNC_LUA = `
${LUA_MEMBER}
local budget = tonumber(ARGV[3])
local used = tonumber(ARGV[4])
local want = tonumber(ARGV[5])
local known = 0
local expiry = redis.call('ZSCORE', KEYS[1], pid)
if expiry and tonumber(expiry) > now then known = 1 end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, p in ipairs(dead) do
  redis.call('HDEL', KEYS[2], p)
  redis.call('HDEL', KEYS[3], p)
end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) end
if ARGV[6] == '1' then
  redis.call('ZREM', KEYS[1], pid)
  redis.call('HDEL', KEYS[2], pid)
  redis.call('HDEL', KEYS[3], pid)
  return {0, 0, redis.call('ZCARD', KEYS[1]), 0, 0}
end
redis.call('ZADD', KEYS[1], now + ttl, pid)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
if want < used then want = used end
redis.call('HSET', KEYS[3], pid, want)
redis.call('PEXPIRE', KEYS[3], ttl * 2)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(members)
local n = #members
local base = math.floor(budget / n)
local extra = budget % n
local others = 0
local owed = 0
local myShare = base
for i, p in ipairs(members) do
  local share = base
  if i <= extra then share = share + 1 end
  if p == pid then
    myShare = share
  else
    local h = tonumber(redis.call('HGET', KEYS[2], p) or '0')
    local w = tonumber(redis.call('HGET', KEYS[3], p) or '0')
    others = others + h
    local need = math.min(w, share) - h
    if need > 0 then owed = owed + need end
  end
end
local free = budget - others - used
local grow = want - used
local g1 = 0
local g2 = 0
if grow > 0 and free > 0 then
  g1 = math.min(grow, math.max(0, myShare - used), free)
  g2 = math.min(grow - g1, math.max(0, free - g1 - owed))
end
local granted = used + g1 + g2
redis.call('HSET', KEYS[2], pid, granted)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
local owe = 0
if granted > myShare then
  local left = math.max(0, free - g1 - g2)
  if owed > left then owe = math.min(granted - myShare, owed - left) end
end
return {granted, owe, n, myShare, others + granted, known}
`;
