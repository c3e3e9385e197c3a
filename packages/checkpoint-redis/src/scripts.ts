import { createHash } from 'node:crypto';

/**
 * Fencing and the write in one server-side step: Redis runs a script atomically, so no epoch can
 * be taken between the check and the HSET (WATCH/MULTI would do the same, but ioredis drops a
 * WATCH silently when it reconnects). Returns -1 when written, else the current epoch.
 */
export const FENCED_HSET = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current ~= tonumber(ARGV[1]) then return current end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return -1
`;

export const FENCED_HSET_SHA = createHash('sha1').update(FENCED_HSET).digest('hex');
