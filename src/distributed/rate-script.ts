import { LUA_NOW } from "./lua-prelude.ts";

/**
 * One atomic rate-limit step in Redis: a sliding log per key of what was spent in the last
 * window (requests and tokens), on Redis TIME, and the membership the fallback share is
 * computed from.
 *
 * KEYS: request log (zset), token log (zset), members (zset process → expiry ms)
 * ARGV: window ms, requests limit (0 none), tokens limit (0 none), tokens, process id, ttl ms, mode
 *   mode "take": spend 1 request + tokens if both fit; "record": add tokens unconditionally (usage
 *   known after the response); "join": membership only
 * Reply: { allowed (1/0), retry after ms, requests in window, tokens in window, processes, Redis time ms }
 */
export const RATE_LUA = `
${LUA_NOW}
local window = tonumber(ARGV[1])
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local mode = ARGV[7]
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), ARGV[5])
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[6]) * 2)
local processes = redis.call('ZCARD', KEYS[3])
if mode == 'join' then return {1, 0, 0, 0, processes, now} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local requests = redis.call('ZCARD', KEYS[1])
local spent = 0
local log = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #log, 2 do
  local cost = tonumber(string.match(log[i], ':(%d+)$'))
  spent = spent + cost
end
local seq = redis.call('INCR', KEYS[1] .. ':seq')
redis.call('PEXPIRE', KEYS[1] .. ':seq', window * 2)
local member = now .. ':' .. seq
if mode == 'record' then
  if tokens > 0 then redis.call('ZADD', KEYS[2], now, member .. ':' .. tokens) end
  redis.call('PEXPIRE', KEYS[2], window * 2)
  return {1, 0, requests, spent + tokens, processes, now}
end
local retry = 0
if rpm > 0 and requests + 1 > rpm then
  local oldest = redis.call('ZRANGE', KEYS[1], requests - rpm, requests - rpm, 'WITHSCORES')
  retry = math.max(retry, tonumber(oldest[2]) + window - now)
end
if tpm > 0 and spent + tokens > tpm then
  if tokens > tpm then return {0, -1, requests, spent, processes, now} end
  local freed = 0
  for i = 1, #log, 2 do
    freed = freed + tonumber(string.match(log[i], ':(%d+)$'))
    if spent - freed + tokens <= tpm then
      retry = math.max(retry, tonumber(log[i + 1]) + window - now)
      break
    end
  end
end
if retry > 0 then return {0, retry, requests, spent, processes, now} end
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], window * 2)
if tokens > 0 then
  redis.call('ZADD', KEYS[2], now, member .. ':' .. tokens)
  redis.call('PEXPIRE', KEYS[2], window * 2)
end
return {1, 0, requests + 1, spent + tokens, processes, now}
`;
