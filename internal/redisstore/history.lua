-- Updates feature histories atomically, mirroring internal/features exactly; windows are not
-- computed here: the histories go back to Go, where features.Compute is the one implementation.
--
-- A history is one string of fixed-size records, oldest first: time (int64, big-endian), id hash
-- (8 bytes), and for customers the amount (float64 bits, 8 bytes), opaque to Lua so that it comes
-- back bit for bit.
--
-- ARGV[1] = 'record' (features.Add):
--   KEYS: customer history, terminal transactions, terminal frauds
--   ARGV: op, time, cut, customer record, terminal record, TTL in ms
--   Drops what no window can see any more (time <= cut), inserts the transaction, returns the
--   three histories.
-- ARGV[1] = 'label' (features.AddFraud, after features.Seen):
--   KEYS: terminal frauds, terminal transactions, customer history; ARGV: op, time, record, TTL
--   in ms. Returns 1 if added, 0 if known, -1 if the customer's or the terminal's history does not
--   hold the transaction (a label may only name a transaction the state has seen).
--
-- Every key written gets the TTL (PX), so an idle history expires with its windows; the Redis
-- deployment evicts least recently used keys under memory pressure (config/redis).

local function load(key, size)
  local s = redis.call('GET', key)
  if not s then
    return ''
  end
  if #s % size ~= 0 then
    error('corrupt history ' .. key .. ': ' .. #s .. ' bytes is not a multiple of ' .. size)
  end
  return s
end

local function time(s, pos)
  return (struct.unpack('>i8', s, pos))
end

local function prune(s, size, cut)
  local k = 1
  while k <= #s and time(s, k) <= cut do
    k = k + size
  end
  if k == 1 then
    return s
  end
  return string.sub(s, k)
end

-- insert places rec after every record at or before its time t, unless a record at t has its id.
local function insert(s, rec, size, t)
  local id = string.sub(rec, 9, 16)
  local i = #s + 1
  while i > 1 and time(s, i - size) > t do
    i = i - size
  end
  local j = i - size
  while j >= 1 and time(s, j) == t do
    if string.sub(s, j + 8, j + 15) == id then
      return s, false
    end
    j = j - size
  end
  return string.sub(s, 1, i - 1) .. rec .. string.sub(s, i), true
end

-- seen reports whether s holds a record at time t whose id is that of rec.
local function seen(s, size, t, rec)
  local id = string.sub(rec, 9, 16)
  local j = #s + 1 - size
  while j >= 1 and time(s, j) >= t do
    if time(s, j) == t and string.sub(s, j + 8, j + 15) == id then
      return true
    end
    j = j - size
  end
  return false
end

local function save(key, s, ttl)
  if #s == 0 then
    redis.call('DEL', key)
  else
    redis.call('SET', key, s, 'PX', ttl)
  end
end

local op = ARGV[1]
if op == 'record' then
  local now, cut, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[6]
  local c = insert(prune(load(KEYS[1], 24), 24, cut), ARGV[4], 24, now)
  local e = insert(prune(load(KEYS[2], 16), 16, cut), ARGV[5], 16, now)
  local f = prune(load(KEYS[3], 16), 16, cut)
  save(KEYS[1], c, ttl)
  save(KEYS[2], e, ttl)
  save(KEYS[3], f, ttl)
  return {c, e, f}
elseif op == 'label' then
  local t = tonumber(ARGV[2])
  if not seen(load(KEYS[2], 16), 16, t, ARGV[3]) or not seen(load(KEYS[3], 24), 24, t, ARGV[3]) then
    return -1
  end
  local f, added = insert(load(KEYS[1], 16), ARGV[3], 16, t)
  save(KEYS[1], f, ARGV[4])
  if added then
    return 1
  end
  return 0
end
error('unknown operation ' .. tostring(op))
