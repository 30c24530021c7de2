/**
 * The Lua scripts of the Redis store. Every script touches the keys of ONE hash tag only (one
 * transaction's keys, or one idempotency key, or the index slot), so each runs atomically on a
 * single node and on Redis Cluster alike. Each header states its KEYS, ARGV and output.
 */

/**
 * save: compare-and-set of a transaction's next version, with its journal and new tasks.
 *
 * KEYS[1] txn hash   `tc:{T}:txn`
 * KEYS[2] journal    `tc:{T}:journal` (list of JSON entries)
 * KEYS[3] task list  `tc:{T}:tasks` (list of task names, in the order they were asked for)
 * KEYS[4] quote hash `tc:{T}:quote` (a quoted-only transaction, see SAVE_QUOTE)
 * KEYS[5] OS events  `tc:{T}:os` (hash: event id → `<eventSeq>|<event JSON>`; the order's events)
 * KEYS[6 .. 5+K] one hash per task the record lists, `tc:{T}:task:<name>`
 * ARGV[1] expected version (0 creates; with no txn hash, the version of the quote hash this first
 *   snapshot continues: the quote hash is deleted and its journal kept for good)
 * ARGV[2] number of record fields F; ARGV[3 .. 2+2F] field/value pairs of the txn hash
 * ARGV[3+2F] K; then K pairs: task name, spec JSON (stored once each, never replaced)
 * then E; then E pairs: OS event id, event JSON (stored once each, numbered 1, 2, … per transaction)
 * then the journal entries, one JSON each, to the end of ARGV
 *
 * Output: {1, newVersion, previous timers JSON or '', previous state or '', firstJournalSeq,
 *   number of tasks inserted now N, their N names..., then, when E > 0, every OS event the
 *   transaction has stored (these and earlier ones) as pairs of id and `<eventSeq>|<event JSON>`,
 *   what the caller publishes to the station without reading them back} on success;
 *   {0, actualVersion or -1} on conflict.
 */
export const SAVE = `
local expected = tonumber(ARGV[1])
local current = redis.call('HGET', KEYS[1], 'version')
local quoted = redis.call('HGET', KEYS[4], 'version')
if expected == 0 then
  if current then return {0, tonumber(current)} end
  if quoted then return {0, tonumber(quoted)} end
elseif not current then
  if (not quoted) or tonumber(quoted) ~= expected then return {0, quoted and tonumber(quoted) or -1} end
  redis.call('DEL', KEYS[4])
  redis.call('PERSIST', KEYS[2])
elseif tonumber(current) ~= expected then
  return {0, tonumber(current)}
end
local previousTimers = redis.call('HGET', KEYS[1], 'timers') or ''
local previousState = redis.call('HGET', KEYS[1], 'state') or ''
local nfields = tonumber(ARGV[2])
local hset = {'HSET', KEYS[1], 'version', expected + 1}
for i = 3, 2 + 2 * nfields do hset[#hset + 1] = ARGV[i] end
redis.call(unpack(hset))
-- The sentinel's nudge count belongs to the version it saw: the transaction moved on.
redis.call('HDEL', KEYS[1], 'nudges', 'nudgedVersion', 'stuck')
local updatedAt = redis.call('HGET', KEYS[1], 'updatedAt')
local at = 3 + 2 * nfields
local ntasks = tonumber(ARGV[at])
local inserted = {}
for i = 1, ntasks do
  local name, spec = ARGV[at + 2 * i - 1], ARGV[at + 2 * i]
  if redis.call('HSETNX', KEYS[5 + i], 'spec', spec) == 1 then
    redis.call('HSET', KEYS[5 + i], 'status', 'pending', 'attempts', 0, 'refusals', 0, 'nextRunAt', updatedAt, 'updatedAt', updatedAt)
    redis.call('RPUSH', KEYS[3], name)
    inserted[#inserted + 1] = name
  end
end
local ev = at + 1 + 2 * ntasks
local nevents = tonumber(ARGV[ev])
for i = 1, nevents do
  local id, body = ARGV[ev + 2 * i - 1], ARGV[ev + 2 * i]
  if redis.call('HEXISTS', KEYS[5], id) == 0 then
    local seq = redis.call('HLEN', KEYS[5]) + 1
    redis.call('HSET', KEYS[5], id, seq .. '|' .. body)
  end
end
local first = redis.call('LLEN', KEYS[2]) + 1
for i = ev + 1 + 2 * nevents, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
local out = {1, expected + 1, previousTimers, previousState, first, #inserted}
for _, name in ipairs(inserted) do out[#out + 1] = name end
if nevents > 0 then
  for _, v in ipairs(redis.call('HGETALL', KEYS[5])) do out[#out + 1] = v end
end
return out
`;

/**
 * saveQuote: compare-and-set of a quoted-only transaction's quote record (issue 21), with its
 * journal. Both keys expire with the quote (its validity plus a margin): a quote never ordered
 * leaves nothing behind. The first snapshot save deletes the quote hash and keeps the journal.
 *
 * KEYS[1] quote hash `tc:{T}:quote`
 * KEYS[2] journal    `tc:{T}:journal`
 * KEYS[3] txn hash   `tc:{T}:txn` (once it exists the transaction was ordered: no quote write)
 * ARGV[1] expected version (0 creates), ARGV[2] TTL ms of both keys
 * ARGV[3] number of record fields F; ARGV[4 .. 3+2F] field/value pairs of the quote hash
 * then the journal entries, one JSON each, to the end of ARGV
 *
 * Output: {1, newVersion} on success; {0, actualVersion or -1} on conflict.
 */
export const SAVE_QUOTE = `
local ordered = redis.call('HGET', KEYS[3], 'version')
if ordered then return {0, tonumber(ordered)} end
local expected = tonumber(ARGV[1])
local current = redis.call('HGET', KEYS[1], 'version')
if expected == 0 then
  if current then return {0, tonumber(current)} end
elseif (not current) or tonumber(current) ~= expected then
  return {0, current and tonumber(current) or -1}
end
local nfields = tonumber(ARGV[3])
local hset = {'HSET', KEYS[1], 'version', expected + 1}
for i = 4, 3 + 2 * nfields do hset[#hset + 1] = ARGV[i] end
redis.call(unpack(hset))
for i = 4 + 2 * nfields, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {1, expected + 1}
`;

/**
 * claimIdempotency: claims an Idempotency-Key for a request, or says why not. A new key expires
 * after the retention (API.md: kept at least 24 h), so the records do not grow without bound. A
 * running claim whose lease has run out (its owner died mid-request) is taken over: owner and
 * lease become the caller's, the run id and the noted transaction stay for the caller to resume.
 *
 * KEYS[1] `tc:idem:{key}` (hash: fingerprint, status, createdAt, response, owner, leaseUntil,
 *   runId, txnNo)
 * ARGV[1] fingerprint of the body, ARGV[2] now (epoch ms), ARGV[3] retention ms (the new key's TTL),
 * ARGV[4] owner, ARGV[5] lease end (epoch ms), ARGV[6] run id
 * Output: {'claimed'} | {'mismatch'} | {'in-progress', owner, leaseUntil} | {'done', response JSON}
 *   | {'taken-over', runId, txnNo or ''}.
 */
export const CLAIM_IDEMPOTENCY = `
local fp = redis.call('HGET', KEYS[1], 'fingerprint')
if not fp then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'status', 'running', 'createdAt', ARGV[2], 'owner', ARGV[4], 'leaseUntil', ARGV[5], 'runId', ARGV[6])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'claimed'}
end
if fp ~= ARGV[1] then return {'mismatch'} end
local response = redis.call('HGET', KEYS[1], 'response')
if redis.call('HGET', KEYS[1], 'status') == 'done' and response then return {'done', response} end
local leaseUntil = tonumber(redis.call('HGET', KEYS[1], 'leaseUntil') or '0')
if leaseUntil >= tonumber(ARGV[2]) then return {'in-progress', redis.call('HGET', KEYS[1], 'owner') or '', tostring(leaseUntil)} end
-- A key from before runs had ids has none to keep: the new run's stands in.
local runId = redis.call('HGET', KEYS[1], 'runId') or ARGV[6]
redis.call('HSET', KEYS[1], 'owner', ARGV[4], 'leaseUntil', ARGV[5], 'runId', runId)
return {'taken-over', runId, redis.call('HGET', KEYS[1], 'txnNo') or ''}
`;

/**
 * ownIdempotency: sets fields of a running claim while `owner` still holds it (a lease renewal,
 * the transaction the request works on).
 *
 * KEYS[1] `tc:idem:{key}`; ARGV[1] owner; ARGV[2..] field/value pairs
 * Output: 1 when set, 0 when the claim is gone, done or another owner's.
 */
export const OWN_IDEMPOTENCY = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
local hset = {'HSET', KEYS[1]}
for i = 2, #ARGV do hset[#hset + 1] = ARGV[i] end
redis.call(unpack(hset))
return 1
`;

/**
 * completeIdempotency: stores the answer of `owner`'s claim and gives it the whole retention again
 * from now. A key gone meanwhile (released, or expired under a request longer than the retention)
 * is not written: a hash without fingerprint and without TTL would never go. A claim another run
 * took over is that run's to answer.
 *
 * KEYS[1] `tc:idem:{key}`; ARGV[1] response JSON, ARGV[2] retention ms, ARGV[3] owner
 * Output: 1 when stored, 0 when the key is gone or another owner's.
 */
export const COMPLETE_IDEMPOTENCY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'done', 'response', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/**
 * releaseIdempotency: forgets `owner`'s claim still running (its request changed nothing).
 *
 * KEYS[1] `tc:idem:{key}`; ARGV[1] owner. Output: 1 when forgotten, else 0.
 */
export const RELEASE_IDEMPOTENCY = `
if redis.call('HGET', KEYS[1], 'status') == 'running' and redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * taskMove: moves a task from one status to another when it is in the expected one.
 *
 * KEYS[1] task hash `tc:{T}:task:<name>`
 * ARGV[1] expected status ('' = any), ARGV[2] now; ARGV[3..] field/value pairs to set
 * Output: 1 when moved, 0 when the task is missing or in another status.
 */
export const TASK_MOVE = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if ARGV[1] ~= '' and status ~= ARGV[1] then return 0 end
local hset = {'HSET', KEYS[1], 'updatedAt', ARGV[2]}
for i = 3, #ARGV do hset[#hset + 1] = ARGV[i] end
redis.call(unpack(hset))
return 1
`;

/**
 * task start: a task hash as it stands, marked running when it was pending (a scheduler's job,
 * issue 21: the read and the claim of TASK_MOVE in one round trip).
 *
 * KEYS[1] task hash; ARGV[1] now
 * Output: {} when the task is missing, else {claimed (1|0), field, value, …} as it was read.
 */
export const TASK_START = `
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return {} end
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'pending' then return {0, unpack(fields)} end
redis.call('HSET', KEYS[1], 'status', 'running', 'updatedAt', ARGV[1])
return {1, unpack(fields)}
`;

/**
 * nudge: counts a sentinel nudge of a transaction at the version it saw; the count restarts
 * when the transaction moved on since (the save script also clears it).
 *
 * KEYS[1] txn hash; ARGV[1] the version the sentinel saw
 * Output: the count, or 0 when the transaction is gone or already at another version.
 */
export const NUDGE = `
local version = redis.call('HGET', KEYS[1], 'version')
if (not version) or version ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'nudgedVersion') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'nudgedVersion', ARGV[1], 'nudges', 0)
end
return redis.call('HINCRBY', KEYS[1], 'nudges', 1)
`;

/**
 * zremIfScore: removes an index entry only while it still has the score the reader saw stale,
 * so an entry re-armed meanwhile (another score) stays.
 *
 * KEYS[1] a sorted set; ARGV[1] member, ARGV[2] score. Output: 1 when removed, else 0.
 */
export const ZREM_IF_SCORE = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`;

/**
 * claimTurn: one caller a period takes a periodic turn (the sentinel's scan, the archiver's pass)
 * across processes. The turn runs until a time of the callers' clock (the runtime's Clock, so the
 * simulation's virtual one there), not of the server's; the key's PX is only a safety net.
 *
 * KEYS[1] the turn's key; ARGV[1] now, ARGV[2] until (ms of the callers' clock), ARGV[3] px
 * Output: 1 when the turn is the caller's, 0 when another holds it.
 */
export const CLAIM_TURN = `
local held = tonumber(redis.call('GET', KEYS[1]) or '')
if held and held > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

/**
 * lease: takes a transaction's lease and reads its stored version in one round trip.
 *
 * KEYS[1] `tc:{T}:lease`, KEYS[2] `tc:{T}:txn`, KEYS[3] `tc:{T}:quote`; ARGV[1] token, ARGV[2] ttl ms
 * Output: {1, version (the txn hash's, else the quote hash's: a quoted-only transaction) or -1} when taken (or already ours), {0, remaining ttl ms} when held by another.
 */
export const LEASE_ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  local v = redis.call('HGET', KEYS[2], 'version') or redis.call('HGET', KEYS[3], 'version')
  return {1, v and tonumber(v) or -1}
end
return {0, redis.call('PTTL', KEYS[1])}
`;

/**
 * leaseRenew / leaseRelease: only the holder (same token) extends or drops a lease.
 *
 * KEYS[1] `tc:{T}:lease`; ARGV[1] token, ARGV[2] ttl ms (renew only)
 * Output: 1 when done, 0 when the lease is no longer ours.
 */
export const LEASE_RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

export const LEASE_RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * removeArchived: deletes an archived transaction's own keys if it is still at the version the
 * archiver archived; its index entries (another slot) are removed by the caller after it.
 *
 * KEYS[1] txn hash, KEYS[2] journal, KEYS[3] task list, KEYS[4 ..] one hash per task the list held
 * when the caller read it, then the order's OS events hash `tc:{T}:os` (published by then)
 * ARGV[1] the archived version; ARGV[2] the number of task names the caller read
 * Output: {1, orderNo or '', state, timers JSON} when removed; {0} when the transaction moved on
 *   or is gone; {-1} when its task list changed since it was read (read it again).
 */
export const REMOVE_ARCHIVED = `
local current = redis.call('HGET', KEYS[1], 'version')
if (not current) or current ~= ARGV[1] then return {0} end
if redis.call('LLEN', KEYS[3]) ~= tonumber(ARGV[2]) then return {-1} end
local f = redis.call('HMGET', KEYS[1], 'orderNo', 'state', 'timers')
for i = 1, #KEYS do redis.call('UNLINK', KEYS[i]) end
return {1, f[1] or '', f[2] or '', f[3] or '{}'}
`;

/**
 * reinstate: puts an archived transaction back (a refund after archiving) unless it is stored:
 * its hash at the archived version, its journal and its task records as archived.
 *
 * KEYS[1] txn hash, KEYS[2] journal, KEYS[3] task list, KEYS[4 .. 3+K] one hash per task
 * ARGV[1] number of record fields F; ARGV[2 .. 1+2F] field/value pairs of the txn hash (version
 * included); ARGV[2+2F] K; then K JSON arrays, each a task's name followed by its hash's
 * field/value pairs; then the journal entries, one JSON each, oldest first, to the end of ARGV
 * Output: 1 when put back, 0 when the transaction is stored already.
 */
export const REINSTATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local nfields = tonumber(ARGV[1])
local hset = {'HSET', KEYS[1]}
for i = 2, 1 + 2 * nfields do hset[#hset + 1] = ARGV[i] end
redis.call(unpack(hset))
redis.call('DEL', KEYS[2], KEYS[3])
local at = 2 + 2 * nfields
local ntasks = tonumber(ARGV[at])
for i = 1, ntasks do
  local t = cjson.decode(ARGV[at + i])
  local h = {'HSET', KEYS[3 + i]}
  for j = 2, #t do h[#h + 1] = t[j] end
  redis.call('DEL', KEYS[3 + i])
  redis.call(unpack(h))
  redis.call('RPUSH', KEYS[3], t[1])
end
for i = at + 1 + ntasks, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
return 1
`;

/**
 * osPublish: puts a transaction's new OS events into their station's outbox, numbering each with
 * the station's next sequence; an event already there (by id) is left as it is, so publishing
 * again after a crash or by the repair pass changes nothing.
 *
 * KEYS[1] `tc:{os:S}:events` (hash: station seq → `<eventSeq>|<event JSON>`)
 * KEYS[2] `tc:{os:S}:ids`    (hash: event id → station seq)
 * KEYS[3] `tc:{os:S}:cursor` (hash: head, delivered, deliveredAt)
 * KEYS[4] `tc:{os:S}:at`     (sorted set: station seq scored by the event's epoch ms)
 * ARGV pairs: event id, `<eventSeq>|<event JSON>`, then the event's epoch ms (triples)
 *
 * Output: the number of events stored now.
 */
export const OS_PUBLISH = `
local stored = 0
for i = 1, #ARGV, 3 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then
    local seq = redis.call('HINCRBY', KEYS[3], 'head', 1)
    redis.call('HSET', KEYS[1], seq, ARGV[i + 1])
    redis.call('HSET', KEYS[2], ARGV[i], seq)
    redis.call('ZADD', KEYS[4], ARGV[i + 2], seq)
    stored = stored + 1
  end
end
return stored
`;

/**
 * osTrim: lets go of a station's oldest delivered events recorded before a time, in station order
 * from the first one kept, stopping at the first that is undelivered or recent (so what is kept is
 * the sequence from `trimmed + 1` on, without holes: reads after any cursor and rewinds still work).
 *
 * KEYS[1] `tc:{os:S}:events`; KEYS[2] `tc:{os:S}:ids`; KEYS[3] `tc:{os:S}:cursor` (its `trimmed`:
 * the last sequence let go); KEYS[4] `tc:{os:S}:at`
 * ARGV[1] epoch ms: only events recorded before it go; ARGV[2] at most this many
 * Output: the number of events let go.
 */
export const OS_TRIM = `
local delivered = tonumber(redis.call('HGET', KEYS[3], 'delivered') or '0')
local from = tonumber(redis.call('HGET', KEYS[3], 'trimmed') or '0')
local before = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local seq = from
while seq - from < limit and seq < delivered do
  local next = tostring(seq + 1)
  local at = redis.call('ZSCORE', KEYS[4], next)
  if at and tonumber(at) >= before then break end
  local value = redis.call('HGET', KEYS[1], next)
  if value then
    local body = cjson.decode(string.sub(value, string.find(value, '|', 1, true) + 1))
    redis.call('HDEL', KEYS[2], body.eventId)
    redis.call('HDEL', KEYS[1], next)
  end
  redis.call('ZREM', KEYS[4], next)
  seq = seq + 1
end
if seq > from then redis.call('HSET', KEYS[3], 'trimmed', seq) end
return seq - from
`;

/**
 * osAdvance: moves a station's cursor from one delivered sequence to another (compare-and-set).
 *
 * KEYS[1] `tc:{os:S}:cursor`; ARGV[1] from seq, ARGV[2] to seq, ARGV[3] epoch ms
 * Output: 1 when moved, 0 when the cursor was elsewhere (or `to` is past the head).
 */
export const OS_ADVANCE = `
local delivered = tonumber(redis.call('HGET', KEYS[1], 'delivered') or '0')
local head = tonumber(redis.call('HGET', KEYS[1], 'head') or '0')
if delivered ~= tonumber(ARGV[1]) or tonumber(ARGV[2]) > head then return 0 end
redis.call('HSET', KEYS[1], 'delivered', ARGV[2], 'deliveredAt', ARGV[3])
return 1
`;

/**
 * osRewind: puts a station's cursor back before its first event at or after a time (a resync), never forward.
 *
 * KEYS[1] `tc:{os:S}:cursor`; KEYS[2] `tc:{os:S}:at`; ARGV[1] epoch ms
 * Output: the delivered sequence after the call.
 */
export const OS_REWIND = `
local delivered = tonumber(redis.call('HGET', KEYS[1], 'delivered') or '0')
local first = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf', 'LIMIT', 0, 1000000)
local lowest = nil
for _, s in ipairs(first) do
  local n = tonumber(s)
  if lowest == nil or n < lowest then lowest = n end
end
if lowest ~= nil and lowest - 1 < delivered then
  delivered = lowest - 1
  redis.call('HSET', KEYS[1], 'delivered', delivered)
end
return delivered
`;

/**
 * osLease: takes a station's delivery lease for an owner until a time of the callers' clock, or
 * renews the owner's own; refused while another owner's runs. Kept without a Redis expiry (the
 * callers' clock may be virtual): a lapsed one is taken over, a released one deleted.
 *
 * KEYS[1] `tc:{os:S}:lease` (hash: owner, until); ARGV[1] owner, ARGV[2] now, ARGV[3] until
 * Output: 1 when the owner holds it, 0 when another does.
 */
export const OS_LEASE = `
local owner = redis.call('HGET', KEYS[1], 'owner')
local heldUntil = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if owner and owner ~= ARGV[1] and heldUntil > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'until', ARGV[3])
return 1
`;

/**
 * osRelease: deletes a station's delivery lease if the owner still holds it.
 *
 * KEYS[1] `tc:{os:S}:lease`; ARGV[1] owner. Output: 1 when deleted, else 0.
 */
export const OS_RELEASE = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * feedAppend: one save onto the transition feed, kept by time as well as count.
 *
 * KEYS[1] the feed
 * ARGV[1] the cap (saves), ARGV[2] the window (ms), ARGV[3] txnNo, ARGV[4] the entries (JSON)
 * Appends one save and drops the saves older than the window, counted back from the new save's id:
 * the ids are Redis's own time, so no clock of the caller (a simulation's is not the wall's) enters.
 * Both trims are `~`: Redis drops whole stream nodes (100 entries by default), cheaply.
 * Output: the new entry's id.
 */
export const FEED_APPEND = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[3], 'j', ARGV[4])
local ms = tonumber(string.match(id, '^(%d+)-'))
local oldest = ms - tonumber(ARGV[2])
if oldest > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', oldest) end
return id
`;
