/**
 * The one Lua script the Redis adapter runs. Redis executes a script atomically: no other
 * command runs between its first and last line, so every compare-and-set, claim, delivery
 * and cancellation below is one indivisible step, across every process sharing the server.
 *
 * Called as `EVALSHA sha 0 <prefix> <op> <args…>`: key names are built from the prefix
 * inside the script, which a single Redis server (or a replicated one) allows and Redis
 * Cluster does not.
 *
 * Keys, for prefix `p`:
 * - `p run:<id>`       a hash per run: the fields of `StoredRun` (a missing field is `null`)
 *                      plus `order`, the creation order
 * - `p order`          the creation counter
 * - `p idem:<key>`     idempotency key → run id
 * - `p session:<id>`   a session's shared state: a hash of `state` and `version`
 * - `p all`            every run, scored by creation order (`listRuns`)
 * - `p status:<s>`     the runs with status `s`, scored by creation order (`listRuns`)
 * - `p event:<name>`   the runs whose `waitEvent` is `name`, scored by creation order
 * - `p free`           pending and running runs without a lease (or whose lease expired,
 *                      once a claim noticed), scored by creation order: what a claim takes
 * - `p leased`         pending and running runs under a lease, scored by its expiry
 * - `p due`            sleeping and waiting runs with a `wakeAt`, scored by it
 * - `p runnable`       the pub/sub channel for `subscribe()` (not a key)
 *
 * Every change to a run goes through `unplace` (remove it from the index sets it is in,
 * read from its hash before the change) and `place` (add it to the sets its changed hash
 * says), so the sets never disagree with the hashes.
 *
 * Nullable arguments come as two: a flag (`1` present, `0` null) and the value. Commit
 * fields that may be kept, cleared or set come as a mode (`k`, `c`, `s`) and the value.
 * Lists come as a count (`-1`: no filter) and the items.
 */
export const script = `
local p = ARGV[1]
local op = ARGV[2]
local at = 3

local function take()
  local v = ARGV[at]
  at = at + 1
  return v
end
local function opt()
  local flag, v = take(), take()
  if flag == '1' then return v end
  return nil
end
local function list()
  local n = tonumber(take())
  if n < 0 then return nil end
  local set = {}
  for _ = 1, n do set[take()] = true end
  return set
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(x) return string.format('%.0f', x) end
local function runkey(id) return p .. 'run:' .. id end
local function terminal(status)
  return status == 'completed' or status == 'failed' or status == 'cancelled'
end
local function leaseFree(expiresAt, now)
  return (not expiresAt) or tonumber(expiresAt) <= now
end

local function unplace(id, key)
  local f = redis.call('HMGET', key, 'status', 'waitEvent')
  redis.call('ZREM', p .. 'status:' .. f[1], id)
  if f[2] then redis.call('ZREM', p .. 'event:' .. f[2], id) end
  redis.call('ZREM', p .. 'free', id)
  redis.call('ZREM', p .. 'leased', id)
  redis.call('ZREM', p .. 'due', id)
end

local function place(id, key)
  local f = redis.call('HMGET', key, 'status', 'waitEvent', 'order', 'leaseOwner', 'leaseExpiresAt', 'wakeAt')
  local status, order = f[1], f[3]
  redis.call('ZADD', p .. 'status:' .. status, order, id)
  if f[2] then redis.call('ZADD', p .. 'event:' .. f[2], order, id) end
  if status == 'pending' or status == 'running' then
    if f[4] then
      redis.call('ZADD', p .. 'leased', f[5], id)
    else
      redis.call('ZADD', p .. 'free', order, id)
    end
  elseif (status == 'sleeping' or status == 'waiting') and f[6] then
    redis.call('ZADD', p .. 'due', f[6], id)
  end
end

local function wake() redis.call('PUBLISH', p .. 'runnable', '1') end

if op == 'create' then
  local id, workflow, version, args = take(), take(), take(), take()
  local idem, session, owner, leaseMs = opt(), opt(), opt(), opt()
  local key = runkey(id)
  if idem then
    local existing = redis.call('GET', p .. 'idem:' .. idem)
    if existing then return {0, redis.call('HGETALL', runkey(existing))} end
  end
  if redis.call('EXISTS', key) == 1 then return {-1} end
  local now = now_ms()
  local order = redis.call('INCR', p .. 'order')
  local fields = {
    'id', id, 'workflow', workflow, 'version', version, 'seq', '0', 'args', args,
    'createdAt', num(now), 'updatedAt', num(now), 'order', order,
  }
  if owner then
    table.insert(fields, 'status'); table.insert(fields, 'running')
    table.insert(fields, 'leaseOwner'); table.insert(fields, owner)
    table.insert(fields, 'leaseExpiresAt'); table.insert(fields, num(now + tonumber(leaseMs)))
  else
    table.insert(fields, 'status'); table.insert(fields, 'pending')
  end
  if idem then
    table.insert(fields, 'idempotencyKey'); table.insert(fields, idem)
    redis.call('SET', p .. 'idem:' .. idem, id)
  end
  if session then table.insert(fields, 'sessionId'); table.insert(fields, session) end
  redis.call('HSET', key, unpack(fields))
  redis.call('ZADD', p .. 'all', order, id)
  place(id, key)
  if not owner then wake() end
  return {1, redis.call('HGETALL', key)}

elseif op == 'commit' then
  local id, expected, owner, status = take(), take(), take(), take()
  local frame, result, err, leaseMs = opt(), opt(), opt(), opt()
  local wakeMode, wakeAt = take(), take()
  local waitMode, waitSpec = take(), take()
  local waitEvent = opt()
  local inboxMode = take()
  local sessionId = opt()
  local sessionVersion, sessionState = tonumber(take()), take()
  local key = runkey(id)
  local cur = redis.call('HMGET', key, 'seq', 'leaseOwner')
  if not cur[1] then return {0, 'not-found'} end
  if cur[2] ~= owner then return {0, 'lease-lost'} end
  if tonumber(cur[1]) ~= tonumber(expected) then return {0, 'conflict'} end
  local sessionKey = sessionId and (p .. 'session:' .. sessionId)
  if sessionKey then
    local version = tonumber(redis.call('HGET', sessionKey, 'version') or '0')
    if version ~= sessionVersion then return {0, 'session-conflict'} end
    redis.call('HSET', sessionKey, 'state', sessionState, 'version', num(version + 1))
  end
  unplace(id, key)
  local now = now_ms()
  local seq = tonumber(cur[1]) + 1
  local set = {'status', status, 'seq', num(seq), 'updatedAt', num(now)}
  local del = {}
  local function put(field, value) table.insert(set, field); table.insert(set, value) end
  if frame then put('frame', frame) end
  if result then put('result', result) end
  if err then put('error', err) end
  if leaseMs and not terminal(status) then
    put('leaseExpiresAt', num(now + tonumber(leaseMs)))
  else
    table.insert(del, 'leaseOwner'); table.insert(del, 'leaseExpiresAt')
  end
  if wakeMode == 's' then put('wakeAt', wakeAt) elseif wakeMode == 'c' then table.insert(del, 'wakeAt') end
  if waitMode == 's' then
    put('wait', waitSpec)
    if waitEvent then put('waitEvent', waitEvent) else table.insert(del, 'waitEvent') end
  elseif waitMode == 'c' then
    table.insert(del, 'wait'); table.insert(del, 'waitEvent')
  end
  if inboxMode == 'c' then table.insert(del, 'inbox') end
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  redis.call('HSET', key, unpack(set))
  place(id, key)
  return {1, seq}

elseif op == 'claim' then
  local owner, leaseMs, limit = take(), tonumber(take()), tonumber(take())
  local workflows, versions = list(), list()
  local wakeBefore = opt()
  local now = now_ms()
  -- Leases that ran out: those runs are free for the taking now.
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'leased', '-inf', now)) do
    redis.call('ZREM', p .. 'leased', id)
    redis.call('ZADD', p .. 'free', redis.call('HGET', runkey(id), 'order'), id)
  end
  local function wanted(workflow, version)
    return (workflows == nil or workflows[workflow]) and (versions == nil or versions[version])
  end
  local picked = {}
  local start = 0
  while #picked < limit do
    local page = redis.call('ZRANGE', p .. 'free', start, start + 99, 'WITHSCORES')
    if #page == 0 then break end
    for i = 1, #page, 2 do
      local f = redis.call('HMGET', runkey(page[i]), 'workflow', 'version', 'leaseExpiresAt')
      if #picked < limit and wanted(f[1], f[2]) and leaseFree(f[3], now) then
        table.insert(picked, {tonumber(page[i + 1]), page[i]})
      end
    end
    start = start + 100
  end
  if wakeBefore then
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'due', '-inf', wakeBefore)) do
      local f = redis.call('HMGET', runkey(id), 'workflow', 'version', 'leaseExpiresAt', 'order')
      if wanted(f[1], f[2]) and leaseFree(f[3], now) then
        table.insert(picked, {tonumber(f[4]), id})
      end
    end
    table.sort(picked, function(a, b) return a[1] < b[1] end)
  end
  local out = {}
  for i = 1, math.min(limit, #picked) do
    local id = picked[i][2]
    local key = runkey(id)
    unplace(id, key)
    redis.call('HSET', key, 'status', 'running', 'leaseOwner', owner, 'leaseExpiresAt', num(now + leaseMs))
    place(id, key)
    out[i] = redis.call('HGETALL', key)
  end
  return out

elseif op == 'renew' then
  local owner, leaseMs = take(), tonumber(take())
  local now = now_ms()
  local seen, out = {}, {}
  while at <= #ARGV do
    local id = take()
    if not seen[id] then
      seen[id] = true
      local key = runkey(id)
      if redis.call('HGET', key, 'leaseOwner') == owner then
        unplace(id, key)
        redis.call('HSET', key, 'leaseExpiresAt', num(now + leaseMs))
        place(id, key)
        table.insert(out, id)
      end
    end
  end
  return out

elseif op == 'release' then
  local id, owner = take(), take()
  local key = runkey(id)
  if redis.call('HGET', key, 'leaseOwner') ~= owner then return 0 end
  unplace(id, key)
  redis.call('HDEL', key, 'leaseOwner', 'leaseExpiresAt')
  place(id, key)
  local status = redis.call('HGET', key, 'status')
  if status == 'pending' or status == 'running' then wake() end
  return 1

elseif op == 'list' then
  local statuses = list()
  local workflow, waitEvent, limit = opt(), opt(), opt()
  limit = limit and tonumber(limit) or -1
  local candidates = {}
  local function collect(setKey)
    local page = redis.call('ZRANGE', setKey, 0, -1, 'WITHSCORES')
    for i = 1, #page, 2 do table.insert(candidates, {tonumber(page[i + 1]), page[i]}) end
  end
  if waitEvent then
    collect(p .. 'event:' .. waitEvent)
  elseif statuses then
    for status in pairs(statuses) do collect(p .. 'status:' .. status) end
  else
    collect(p .. 'all')
  end
  table.sort(candidates, function(a, b) return a[1] > b[1] end)
  local out = {}
  for _, c in ipairs(candidates) do
    if #out == limit then break end
    local key = runkey(c[2])
    local f = redis.call('HMGET', key, 'status', 'workflow', 'waitEvent')
    if (statuses == nil or statuses[f[1]]) and (workflow == nil or f[2] == workflow)
      and (waitEvent == nil or f[3] == waitEvent) then
      table.insert(out, redis.call('HGETALL', key))
    end
  end
  return out

elseif op == 'deliver' then
  local id, wait, payload = take(), take(), take()
  local key = runkey(id)
  local f = redis.call('HMGET', key, 'status', 'wait', 'seq')
  if f[1] ~= 'waiting' or f[2] ~= wait then return 0 end
  unplace(id, key)
  redis.call('HDEL', key, 'wakeAt', 'wait', 'waitEvent')
  redis.call('HSET', key, 'status', 'pending', 'seq', num(tonumber(f[3]) + 1),
    'updatedAt', num(now_ms()), 'inbox', payload)
  place(id, key)
  wake()
  return 1

elseif op == 'cancel' then
  local id, err = take(), take()
  local key = runkey(id)
  local f = redis.call('HMGET', key, 'status', 'seq')
  if not f[1] or terminal(f[1]) then return 0 end
  unplace(id, key)
  redis.call('HDEL', key, 'leaseOwner', 'leaseExpiresAt', 'wakeAt', 'wait', 'waitEvent')
  redis.call('HSET', key, 'status', 'cancelled', 'seq', num(tonumber(f[2]) + 1),
    'updatedAt', num(now_ms()), 'error', err)
  place(id, key)
  return 1
end
return redis.error_reply('unknown operation ' .. tostring(op))
`;
