//! The Lua scripts that make window reads, state reads and rate limits
//! atomic on the Redis server, measured on its clock.

/// Reads a window and, if the session is live, refreshes its TTL (server time).
pub(crate) const RECENT: &str = r"
local items = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1)
if #items > 0 then
  local ttl = tonumber(redis.call('HGET', KEYS[2], 'ttl') or ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[4], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl, ARGV[3])
end
return items
";

/// Reads a state hash and, if present, refreshes the session's TTL.
pub(crate) const GET_STATE: &str = r"
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 then
  local ttl = tonumber(redis.call('HGET', KEYS[2], 'ttl') or ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[4], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl, ARGV[2])
end
return fields
";

/// Sliding-window rate limit on server time: counts the call only if
/// allowed; returns {allowed, remaining, retry_after_ms}. Atomic, so it holds
/// across processes sharing one Redis.
pub(crate) const RATE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < max then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, max - n - 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return {0, 0, wait}
";
