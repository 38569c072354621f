-- tollgate settle, version 1. KEEP IN SYNC with src/quota/redis.rs.
-- KEYS[i]: a bucket key (counter .. ':' .. bucket id); ARGV[i]: the signed correction.
-- A bucket that already expired is left alone (its window is over). Never below zero.
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local v = redis.call('INCRBY', KEYS[i], ARGV[i])
    if v < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
  end
end
return 0
