/**
 * Lua scripts for the token-guarded operations. Each runs atomically inside Redis, so no other
 * client can take or change the key between the comparison and the write.
 */
export const COMPARE_AND_DELETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export const COMPARE_AND_EXPIRE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/**
 * ARGV: member, expected score, next score ('' removes). Scores are epoch ms, exact as doubles, so
 * comparing the numbers is exact.
 */
export const ZSET_COMPARE_AND_SET = `
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not current or tonumber(current) ~= tonumber(ARGV[2]) then
  return 0
end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1`;
