// Lua scripts of the fenced Redis target. A script runs atomically, so reading the fence and
// writing a chunk cannot interleave with a newer epoch's claim: once the claim ran, no older
// epoch writes anything more.

/**
 * KEYS[1] fence key; ARGV[1] epoch. Raises the fence to the epoch unless a newer one holds it.
 * Returns the epoch that held the fence before (0 when none): larger than ARGV[1] means fenced.
 */
export const CLAIM_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local epoch = tonumber(ARGV[1])
if current < epoch then redis.call('SET', KEYS[1], ARGV[1]) end
return current
`;

/**
 * KEYS[1] fence key, KEYS[2..] one key per record. ARGV[1] epoch, ARGV[2] TTL in seconds (0:
 * none), ARGV[3] 'string' or 'hash', then per record: its value (string), or its number of
 * field/value pairs followed by the pairs (hash). Writes nothing if a newer epoch holds the
 * fence. Returns the fence's epoch: larger than ARGV[1] means fenced.
 */
export const FENCED_UPSERT_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > tonumber(ARGV[1]) then return current end
local ttl = tonumber(ARGV[2])
local hash = ARGV[3] == 'hash'
local a = 4
for i = 2, #KEYS do
  if hash then
    local n = tonumber(ARGV[a])
    local last = a + 2 * n
    -- unpack is bounded by the Lua stack (about 8000 values): set wide records 1000 values at a time.
    for from = a + 1, last, 1000 do
      redis.call('HSET', KEYS[i], unpack(ARGV, from, math.min(from + 999, last)))
    end
    if n > 0 and ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
    a = last + 1
  else
    if ttl > 0 then redis.call('SET', KEYS[i], ARGV[a], 'EX', ttl) else redis.call('SET', KEYS[i], ARGV[a]) end
    a = a + 1
  end
end
return current
`;
