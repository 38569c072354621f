-- tollgate reserve, batched, version 1: several independent reservations in one call, each
-- all-or-nothing, applied in order (a later one sees what an earlier one counted).
-- KEEP IN SYNC with src/quota/window.rs (window math) and src/quota/redis.rs (argument and
-- reply layout). Changing the math or the key layout needs a new version (reserve_batch_v2.lua).
--
-- ARGV[1] = m, the number of reservations; ARGV[1 + r] = how many charges reservation r has.
-- Then, charge after charge over all reservations (charge j overall):
-- KEYS[j]: the counter of charge j, without bucket; the bucket key is KEYS[j] .. ':' .. id.
--          All keys share the hash tag {q}, so they live in one Redis Cluster slot.
-- ARGV[m + 1 + 3j-2 .. m + 1 + 3j]: window code (1 second, 2 minute, 3 hour, 4 day, 5 week,
--          6 month, 7 year), limit, amount to charge.
-- Reply: per reservation { admitted (0/1), then per charge: bucket id, used, remaining,
-- reset ms, retry ms }, flattened.
-- Time is the server's (TIME, read once per call), so every gateway instance agrees on the
-- windows.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local DAY = 86400000
local ROLLING = { 1000, 60000, 3600000 }

local function fdiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end

local function cdiv(a, b)
  local q = fdiv(a, b)
  if q * b < a then q = q + 1 end
  return q
end

-- Trunc-toward-zero division, as Rust's `/` on the (non-negative) values used below.
local function tdiv(a, b) return fdiv(a, b) end

local function civil_from_days(z)
  z = z + 719468
  local era = fdiv(z, 146097)
  local doe = z - era * 146097
  local yoe = tdiv(doe - tdiv(doe, 1460) + tdiv(doe, 36524) - tdiv(doe, 146096), 365)
  local doy = doe - (365 * yoe + tdiv(yoe, 4) - tdiv(yoe, 100))
  local mp = tdiv(5 * doy + 2, 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = fdiv(y, 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = tdiv(153 * mp + 2, 5) + d - 1
  local doe = yoe * 365 + tdiv(yoe, 4) - tdiv(yoe, 100) + doy
  return era * 146097 + doe - 719468
end

-- id, start, end, rolling length (nil for calendar windows)
local function bucket(code)
  local len = ROLLING[code]
  if len then
    local id = fdiv(now, len)
    return id, id * len, (id + 1) * len, len
  end
  local day = fdiv(now, DAY)
  if code == 4 then
    return day, day * DAY, (day + 1) * DAY, nil
  elseif code == 5 then
    local id = fdiv(day + 3, 7)
    return id, (id * 7 - 3) * DAY, (id * 7 + 4) * DAY, nil
  elseif code == 6 then
    local y, m = civil_from_days(day)
    local ny, nm = y, m + 1
    if m == 12 then ny, nm = y + 1, 1 end
    return y * 12 + m - 1, days_from_civil(y, m, 1) * DAY, days_from_civil(ny, nm, 1) * DAY, nil
  end
  local y = civil_from_days(day)
  return y, days_from_civil(y, 1, 1) * DAY, days_from_civil(y + 1, 1, 1) * DAY, nil
end

local m = tonumber(ARGV[1])
local reply = {}

-- One reservation: the charges first .. first + n - 1, all or nothing.
local function reserve(first, n)
  local at = #reply + 1
  reply[at] = 1
  local plan = {}
  for k = 1, n do
    local i = first + k - 1
    local a = m + 1 + 3 * (i - 1)
    local code = tonumber(ARGV[a + 1])
    local limit = tonumber(ARGV[a + 2])
    local charge = tonumber(ARGV[a + 3])
    local id, bstart, bend, len = bucket(code)
    local cur = tonumber(redis.call('GET', KEYS[i] .. ':' .. id) or '0')
    local prev, used, reset = 0, cur, 0
    if len then
      prev = tonumber(redis.call('GET', KEYS[i] .. ':' .. (id - 1)) or '0')
      used = cdiv(prev * (bend - now), len) + cur
      if cur > 0 then reset = bend + len - now elseif prev > 0 then reset = bend - now end
    elseif cur > 0 then
      reset = bend - now
    end
    local fits = used + charge <= limit and (charge > 0 or used < limit)
    local remaining, retry = 0, 0
    if fits then
      used = used + charge
      remaining = limit - used
      if charge > 0 then
        local full = len and (bend + len - now) or (bend - now)
        if full > reset then reset = full end
      end
    else
      reply[at] = 0
      if limit > used then remaining = limit - used end
      if not len then
        retry = bend - now
      elseif charge > limit then
        retry = len
      else
        local room = limit - charge
        if cur <= room and prev > 0 then
          retry = bend - now - fdiv((room - cur) * len, prev)
        elseif cur > 0 then
          retry = bend + len - fdiv(room * len, cur) - now
        end
        if retry < 1 then retry = 1 end
      end
    end
    local keep = len and (bend - now + len + 1000) or (bend - now + 3600000)
    plan[k] = { KEYS[i] .. ':' .. id, charge, keep }
    for _, v in ipairs({ id, used, remaining, reset, retry }) do
      reply[#reply + 1] = v
    end
  end
  if reply[at] == 1 then
    for k = 1, n do
      local p = plan[k]
      -- Also for 0: the bucket must exist for a later settlement to find it.
      redis.call('INCRBY', p[1], p[2])
      redis.call('PEXPIRE', p[1], p[3])
    end
  end
end

local first = 1
for r = 1, m do
  local n = tonumber(ARGV[1 + r])
  reserve(first, n)
  first = first + n
end
return reply
