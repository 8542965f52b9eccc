/**
 * The lines the Redis scripts begin with. `now` is Redis's own clock in ms (TIME), so every
 * process's step reads one clock rather than its host's; the membership scripts (budget, shards)
 * then take the calling process's id and its membership ttl in ms as ARGV[1] and ARGV[2].
 */
export const LUA_NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

export const LUA_MEMBER = `${LUA_NOW}
local pid = ARGV[1]
local ttl = tonumber(ARGV[2])`;
