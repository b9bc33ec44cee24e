import { createHash } from "node:crypto";
import type PG from "pg";
import {
  type ClaimOptions,
  type Commit,
  type CommitOutcome,
  type Delivery,
  mayKeepLease,
  type NewRun,
  type PendingEvent,
  type PurgeFilter,
  type RunQuery,
  type RunStatus,
  type StorageAdapter,
  StorageError,
  type StoredRun,
  type StoredSession,
  type StoredStep,
  terminalStatuses,
} from "../contract.js";
import {
  type PostgresAdapterConfig,
  type PostgresAdapterOptions,
  type PostgresNotification,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQuery,
  resolvePostgresConfig,
} from "./postgres-config.js";
import { migratePostgres, quoteIdentifier } from "./postgres-migrations.js";

/** A row as the adapter's statements return it: times as epoch milliseconds. */
interface RunRow {
  id: string;
  workflow: string;
  version: string;
  status: RunStatus;
  seq: number | string | bigint;
  args: string;
  frame: string | null;
  result: string | null;
  error: string | null;
  idempotency_key: string | null;
  session_id: string | null;
  lease_owner: string | null;
  lease_expires_at: number | string | bigint | null;
  created_at: number | string | bigint;
  updated_at: number | string | bigint;
  wake_at: number | string | bigint | null;
  wait: string | null;
  wait_event: string | null;
  inbox: string | null;
}

/** A delay as the server adds it to its now: whole milliseconds, rounded up (never early). */
function wholeMs<T extends number | null>(ms: T): T {
  return (ms === null ? null : Math.ceil(ms)) as T;
}

/** The channel every adapter notifies on; the payload is the schema, so stores tell apart. */
export const runnableChannel = "ratchet_runnable";

/**
 * The server's clock, to the millisecond: stored times are whole milliseconds, so the
 * epoch milliseconds an adapter returns are exactly what it compares.
 */
const now = "date_trunc('milliseconds', now())";
const epochMs = (column: string) => `(extract(epoch FROM ${column}) * 1000)::int8`;
/**
 * The server's now in epoch milliseconds: wake times the engine sends as a delay
 * (`Commit.wakeInMs`) are stored from it and compared with it, so every worker agrees on
 * them whatever its own clock says.
 */
const nowMs = epochMs(now);
const runColumns =
  "id, workflow, version, status, seq, args, frame, result, error, idempotency_key, " +
  `session_id, lease_owner, ${epochMs("lease_expires_at")} AS lease_expires_at, ` +
  `${epochMs("created_at")} AS created_at, ${epochMs("updated_at")} AS updated_at, ` +
  "wake_at, wait, wait_event, inbox";
/** A lease of `$n` milliseconds from now. */
const leaseFor = (n: number) => `${now} + $${n}::int8 * interval '1 millisecond'`;
const unleasedOrExpired = `(lease_expires_at IS NULL OR lease_expires_at <= ${now})`;

/**
 * Every statement the adapter runs after migrating. Each is named, so a connection parses
 * it once and later executions send only Bind/Execute. Names carry a hash of the schema and
 * the variant: one pool may serve adapters on several schemas.
 */
function statements(schema: string, notify: boolean) {
  const runs = `${quoteIdentifier(schema)}.runs`;
  const sessions = `${quoteIdentifier(schema)}.sessions`;
  const steps = `${quoteIdentifier(schema)}.steps`;
  const events = `${quoteIdentifier(schema)}.events`;
  const eventColumns = `id, run_id, name, key, payload, ${epochMs("created_at")} AS created_at`;
  const tag = createHash("sha256").update(schema).digest("hex").slice(0, 12);
  const named =
    (key: string, text: string) =>
    (...values: unknown[]): PostgresQuery => ({ name: `ratchet_${tag}_${key}`, text, values });
  /**
   * A statement that makes a run claimable. With `notify`, the rows it returns are
   * announced on {@link runnableChannel} (payload: the schema, the last parameter).
   */
  const announcing = (key: string, changed: string, returning: string, announceIf: string) => {
    if (!notify) return named(key, `${changed} RETURNING ${returning}`);
    const statement = named(
      `${key}_notify`,
      `WITH changed AS (${changed} RETURNING *)
       SELECT ${returning},
         CASE WHEN ${announceIf} THEN pg_notify('${runnableChannel}', $${countParameters(changed) + 1}) END
       FROM changed`,
    );
    return (...values: unknown[]) => statement(...values, schema);
  };
  const insert = `INSERT INTO ${runs} (id, workflow, version, status, seq, args, idempotency_key,
       session_id, lease_owner, lease_expires_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8, ${leaseFor(9)}, ${now}, ${now})
     ON CONFLICT DO NOTHING`;
  const claimSet = `UPDATE ${runs} SET status = 'running', lease_owner = $1,
       lease_expires_at = ${leaseFor(2)}`;
  const claimFilters = `($3::text[] IS NULL OR workflow = ANY($3::text[]))
       AND ($4::text[] IS NULL OR version = ANY($4::text[]))`;
  // Each kind of claimable run through its own index, so a claim reads only claimable rows:
  // runs nobody leases (runs_free), leases that expired (runs_lease_expiry, a range up to
  // now()), and with `wakeBefore` due sleepers and timed-out waits (runs_wake). Runs leased
  // by live workers and parked runs are in none of them. Up to `limit` rows of each kind are
  // locked for the statement, then the oldest `limit` of them all are taken; a concurrent
  // claim may pass over a few runs that this one leaves: they are claimed at the next round.
  const pick = (kind: string, where: string) =>
    `${kind} AS MATERIALIZED (
         SELECT id, created_at, ord FROM ${runs}
         WHERE ${where} AND ${claimFilters}
         ORDER BY created_at, ord
         LIMIT $5
         FOR UPDATE SKIP LOCKED
       )`;
  const free = pick("free", "status IN ('pending', 'running') AND lease_owner IS NULL");
  const expired = pick(
    "expired",
    `status IN ('pending', 'running') AND lease_owner IS NOT NULL AND lease_expires_at <= ${now}`,
  );
  const due = pick(
    "due",
    `status IN ('sleeping', 'waiting') AND wake_at IS NOT NULL
           AND wake_at <= $6::int8 + CASE WHEN $7::boolean THEN ${nowMs} ELSE 0 END
           AND ${unleasedOrExpired}`,
  );
  const claimPicked = (kinds: string[]) => `picked AS (
         SELECT id FROM (${kinds.map((k) => `SELECT * FROM ${k}`).join(" UNION ALL ")}) AS kinds
         ORDER BY created_at, ord
         LIMIT $5
       ), claimed AS (
         ${claimSet} WHERE id IN (SELECT id FROM picked) RETURNING *
       )
       SELECT ${runColumns} FROM claimed ORDER BY created_at, ord`;
  /**
   * A commit that keeps the lease sets it to now + leaseMs, unless it already ends between
   * half a lease and a lease from now: then it stays as it is, so a run's checkpoints do not
   * rewrite the indexed expiry every time (they stay HOT updates); renewals extend it.
   */
  const keptLease = (ms: string, current: string) =>
    `CASE WHEN ${ms} IS NULL THEN NULL
           WHEN ${current} BETWEEN ${now} + ${ms} * interval '0.5 millisecond'
             AND ${now} + ${ms} * interval '1 millisecond' THEN ${current}
           ELSE ${now} + ${ms} * interval '1 millisecond' END`;
  const commitSet = `UPDATE ${runs} SET
         status = $4,
         seq = seq + 1,
         frame = COALESCE($5, frame),
         result = COALESCE($6, result),
         error = COALESCE($7, error),
         lease_owner = CASE WHEN $8::int8 IS NULL THEN NULL ELSE lease_owner END,
         lease_expires_at = ${keptLease("$8::int8", "lease_expires_at")},
         updated_at = ${now},
         wake_at = CASE $9::int4 WHEN 0 THEN wake_at WHEN 1 THEN $10::int8
           ELSE ${nowMs} + $10::int8 END,
         wait = CASE WHEN $11::boolean THEN $12::text ELSE wait END,
         wait_event = CASE WHEN $11::boolean THEN $13::text ELSE wait_event END,
         inbox = CASE WHEN $14::boolean THEN NULL ELSE inbox END`;
  const commitCas = "id = $1 AND seq = $2 AND lease_owner = $3";
  const commitKept = `UPDATE ${runs} SET seq = seq + 1, frame = $4::text, updated_at = ${now}
       WHERE ${commitCas} AND status = 'running'
         AND lease_expires_at BETWEEN ${now} + $5::int8 * interval '0.5 millisecond'
           AND ${now} + $5::int8 * interval '1 millisecond'`;
  const listed = new Map<number, (...values: unknown[]) => PostgresQuery>();
  return {
    /**
     * `(id, workflow, version, status, args, key, session, owner | null, leaseMs | null)` →
     * the new row, if created; an unleased run is announced.
     */
    create: announcing("create", insert, runColumns, "lease_owner IS NULL"),
    // Group creation: many runs in one INSERT (rows in the order the runs were created, so
    // their creation order holds), each its own ON CONFLICT DO NOTHING; a run not returned
    // (an id taken, an idempotency key already stored) is then created alone, which says why.
    /**
     * `(json: [{ i: id, w: workflow, v: version, s: status, a: args, k: key, se: session,
     * o: owner, l: leaseMs, n: order }])` → the new rows; unleased ones are announced.
     */
    createBatch: announcing(
      "create_batch",
      `INSERT INTO ${runs} (id, workflow, version, status, seq, args, idempotency_key,
         session_id, lease_owner, lease_expires_at, created_at, updated_at)
       SELECT b.i, b.w, b.v, b.s, 0, b.a, b.k, b.se, b.o,
         ${now} + b.l * interval '1 millisecond', ${now}, ${now}
       FROM json_to_recordset($1::json) AS b(i text, w text, v text, s text, a text, k text,
         se text, o text, l int8, n int8)
       ORDER BY b.n
       ON CONFLICT DO NOTHING`,
      runColumns,
      "lease_owner IS NULL",
    ),
    /** `(idempotencyKey)` → the run with it. */
    byIdempotencyKey: named(
      "by_key",
      `SELECT ${runColumns} FROM ${runs} WHERE idempotency_key = $1`,
    ),
    /** `(id)` → the run. */
    load: named("load", `SELECT ${runColumns} FROM ${runs} WHERE id = $1`),
    /**
     * Rewrites the one row of `schema_version` as it is, returning no row: `pg` reports a row
     * count of 1, a pool that counts the rows it returns 0 (see `Opened.counts`).
     */
    countProbe: named(
      "count_probe",
      `UPDATE ${quoteIdentifier(schema)}.schema_version SET version = version WHERE id = 1`,
    ),
    // The whole commit is this one statement, hence one transaction in autocommit; the
    // WHERE clause is the compare-and-set, and the row lock makes racing commits queue
    // and then see the winner's seq. A `set…` flag false keeps the stored value.
    /**
     * `(id, expectedSeq, owner, status, frame, result, error, leaseMs | null,
     * setWake (0 keep, 1 wakeAt as given, 2 a delay from the server's now), wakeAt,
     * setWait, wait, waitEvent, clearInbox)` → the new seq.
     */
    commit: named("commit", `${commitSet} WHERE ${commitCas} RETURNING seq`),
    // The hot path: a checkpoint of a running run that keeps its lease as it is (between half
    // a lease and a lease from now) writes the frame, seq and time only: five parameters to
    // encode and send instead of fourteen, and no expression for the columns it leaves.
    // When it updates nothing, `commit` runs and decides.
    /** `(id, expectedSeq, owner, frame, leaseMs)` → the new seq, if it applied. */
    commitKept: named("commit_kept", `${commitKept} RETURNING seq`),
    /**
     * {@link commitKept} answering with its row count alone, for a pool that reports one
     * (`pg` does): no row to project, send and parse. Applied, the new seq is expectedSeq + 1.
     */
    commitKeptCounted: named("commit_kept_n", commitKept),
    // A commit with a session write is one statement too. `held` locks the run row if the
    // run's compare-and-set holds (rechecked on the newest row version), so nothing else
    // can change it before the update below; the session is written only then, with its
    // own compare-and-set: an insert for version 0 (a racing insert of the same session
    // makes this one wait for it and then do nothing), otherwise an update at the expected
    // version (rechecked after waiting for a racing writer's row lock). The run is updated
    // only if the session write applied, so either both are written or neither. Every run
    // row is locked before its session row, so racing commits cannot deadlock.
    /**
     * `(the 14 of commit…, sessionId, expectedVersion, state)` → `seq` (null unless it
     * applied) and `held` (whether the run's own compare-and-set held).
     */
    commitSession: named(
      "commit_session",
      `WITH held AS MATERIALIZED (
         SELECT id FROM ${runs} WHERE ${commitCas} FOR UPDATE
       ), inserted AS (
         INSERT INTO ${sessions} (id, state, version, updated_at)
         SELECT $15::text, $17::text, 1, ${now} FROM held WHERE $16::int8 = 0
         ON CONFLICT (id) DO NOTHING
         RETURNING version
       ), updated AS (
         UPDATE ${sessions} SET state = $17::text, version = version + 1, updated_at = ${now}
         WHERE id = $15::text AND version = $16::int8 AND $16::int8 <> 0
           AND EXISTS (SELECT FROM held)
         RETURNING version
       ), committed AS (
         ${commitSet}
         WHERE ${commitCas}
           AND EXISTS (SELECT FROM inserted UNION ALL SELECT FROM updated)
         RETURNING seq
       )
       SELECT (SELECT seq FROM committed) AS seq, EXISTS (SELECT FROM held) AS held`,
    ),
    // Group commit: the checkpoints of many runs in one statement, so one transaction and
    // one WAL flush. Each row of the batch carries its own compare-and-set, so a row whose
    // seq moved on or whose lease was lost is simply not updated (and not returned), and the
    // others apply. The rows are locked first in id order (the ARRAY() is evaluated once,
    // before the update), so two batches sharing runs — a stale worker's and the new
    // owner's — queue on each other instead of deadlocking. Keys are short to keep the
    // JSON small; a missing key reads as NULL, and a NULL flag keeps the stored column.
    /**
     * `(json: [{ i: id, q: expectedSeq, o: owner, s: status, f: frame, r: result,
     * e: error, l: leaseMs, sw: setWake (as in commit), w: wakeAt, sv: setWait, v: wait, ve: waitEvent,
     * ci: clearInbox }])` → `(id, seq)` of every row that applied.
     */
    commitBatch: named(
      "commit_batch",
      `WITH batch AS MATERIALIZED (
         SELECT * FROM json_to_recordset($1::json) AS b(i text, q int8, o text, s text,
           f text, r text, e text, l int8, sw int4, w int8, sv boolean, v text, ve text,
           ci boolean)
       ), locked AS MATERIALIZED (
         SELECT id FROM ${runs} WHERE id = ANY (ARRAY(SELECT i FROM batch)) ORDER BY id
         FOR UPDATE
       )
       UPDATE ${runs} AS r SET
         status = b.s,
         seq = r.seq + 1,
         frame = COALESCE(b.f, r.frame),
         result = COALESCE(b.r, r.result),
         error = COALESCE(b.e, r.error),
         lease_owner = CASE WHEN b.l IS NULL THEN NULL ELSE r.lease_owner END,
         lease_expires_at = ${keptLease("b.l", "r.lease_expires_at")},
         updated_at = ${now},
         wake_at = CASE WHEN b.sw = 2 THEN ${nowMs} + b.w WHEN b.sw = 1 THEN b.w
           ELSE r.wake_at END,
         wait = CASE WHEN b.sv THEN b.v ELSE r.wait END,
         wait_event = CASE WHEN b.sv THEN b.ve ELSE r.wait_event END,
         inbox = CASE WHEN b.ci THEN NULL ELSE r.inbox END
       FROM batch AS b
       WHERE r.id = b.i AND r.id = ANY (ARRAY(SELECT id FROM locked))
         AND r.seq = b.q AND r.lease_owner = b.o
       RETURNING r.id, r.seq`,
    ),
    /** `(ids)` → who holds each lease; read only for the rows of a batch that did not apply. */
    commitStates: named(
      "commit_states",
      `SELECT id, lease_owner FROM ${runs} WHERE id = ANY($1::text[])`,
    ),
    /** `(sessionId)` → its state and version, if ever written. */
    loadSession: named("load_session", `SELECT state, version FROM ${sessions} WHERE id = $1`),
    /** `(id)` → who holds the lease; read only after a commit failed, to say why. */
    commitState: named("commit_state", `SELECT lease_owner FROM ${runs} WHERE id = $1`),
    // SKIP LOCKED: concurrent claims pass over each other's rows instead of queueing, and
    // FOR UPDATE rechecks the WHERE clause on the newest row version, so a run claimed a
    // moment ago is never taken again. MATERIALIZED evaluates each pick exactly once.
    /** `(owner, leaseMs, workflows | null, versions | null, limit)` → the claimed rows, oldest first. */
    claim: named("claim", `WITH ${free}, ${expired}, ${claimPicked(["free", "expired"])}`),
    /**
     * `(owner, leaseMs, workflows | null, versions | null, limit, wakeBefore, relative)` →
     * the same, with due sleepers and timed-out waits; `relative`: `wakeBefore` is a delay
     * from the server's now.
     */
    claimWithDue: named(
      "claim_due",
      `WITH ${free}, ${expired}, ${due}, ${claimPicked(["free", "expired", "due"])}`,
    ),
    /** `(owner, ids, leaseMs)` → the ids renewed. */
    // The rows are locked in id order first, as a group commit locks its rows: a renewal
    // and a group commit of the same process share runs, and taking their rows in two
    // different orders deadlocked them (the server broke the cycle after deadlock_timeout).
    renew: named(
      "renew",
      `WITH locked AS MATERIALIZED (
         SELECT id FROM ${runs} WHERE id = ANY($2::text[]) AND lease_owner = $1 ORDER BY id
         FOR UPDATE
       )
       UPDATE ${runs} SET lease_expires_at = ${leaseFor(3)}
       WHERE id = ANY (ARRAY(SELECT id FROM locked)) AND lease_owner = $1
       RETURNING id`,
    ),
    /** `(id, owner)`; announces the run when it is left claimable. */
    release: announcing(
      "release",
      `UPDATE ${runs} SET lease_owner = NULL, lease_expires_at = NULL
       WHERE id = $1 AND lease_owner = $2`,
      "id",
      "status IN ('pending', 'running')",
    ),
    /** `(id, wait, payload)` → a row when delivered; the run, now pending, is announced. */
    deliver: announcing(
      "deliver",
      `UPDATE ${runs} SET status = 'pending', seq = seq + 1, updated_at = ${now},
         wake_at = NULL, wait = NULL, wait_event = NULL, inbox = $3
       WHERE id = $1 AND status = 'waiting' AND wait = $2`,
      "id",
      "true",
    ),
    // The event row is locked first and rechecked, so of two deliveries of one event only
    // one finds it pending; it is marked delivered only if the run's wait took it.
    /** `(id, wait, payload, eventId)` → a row when delivered; the run is announced. */
    deliverEvent: (() => {
      const statement = named(
        `deliver_event${notify ? "_notify" : ""}`,
        `WITH event AS MATERIALIZED (
           SELECT id FROM ${events} WHERE id = $4 AND run_id = $1 AND NOT delivered FOR UPDATE
         ), changed AS (
           UPDATE ${runs} SET status = 'pending', seq = seq + 1, updated_at = ${now},
             wake_at = NULL, wait = NULL, wait_event = NULL, inbox = $3
           WHERE id = $1 AND status = 'waiting' AND wait = $2 AND EXISTS (SELECT FROM event)
           RETURNING id
         ), consumed AS (
           UPDATE ${events} SET delivered = true
           WHERE id = $4 AND EXISTS (SELECT FROM changed)
         )
         SELECT id${notify ? `, pg_notify('${runnableChannel}', $5)` : ""} FROM changed`,
      );
      return (...values: unknown[]) =>
        notify ? statement(...values, schema) : statement(...values);
    })(),
    /** `(id, runId, name, key, payload)` → a row when stored. */
    storeEvent: named(
      "store_event",
      `INSERT INTO ${events} (id, run_id, name, key, payload, created_at)
       VALUES ($1, $2, $3, $4, $5, ${now})
       ON CONFLICT DO NOTHING RETURNING id`,
    ),
    /** `()` → every undelivered event, oldest first. */
    pendingEvents: named(
      "pending_events",
      `SELECT ${eventColumns} FROM ${events} WHERE NOT delivered ORDER BY created_at, ord`,
    ),
    /** `(runId)` → the run's undelivered events, oldest first. */
    pendingEventsOf: named(
      "pending_events_of",
      `SELECT ${eventColumns} FROM ${events} WHERE run_id = $1 AND NOT delivered ORDER BY ord`,
    ),
    /** `(id, error)` → a row when cancelled. */
    cancel: named(
      "cancel",
      `UPDATE ${runs} SET status = 'cancelled', seq = seq + 1, error = $2,
         lease_owner = NULL, lease_expires_at = NULL, updated_at = ${now},
         wake_at = NULL, wait = NULL, wait_event = NULL
       WHERE id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')
       RETURNING id`,
    ),
    // Oldest first through runs_created: a run's last commit is never before its creation,
    // so `created_at < before` loses nothing and keeps the scan on the old end. In the
    // statement's snapshot the deleted runs are still visible: a session is kept only when
    // a run that stays refers to it.
    /** `(before epoch ms, statuses, limit)` → `n`, the runs deleted. */
    purge: named(
      "purge",
      `WITH doomed AS MATERIALIZED (
         SELECT id FROM ${runs}
         WHERE created_at < to_timestamp($1::int8 / 1000.0)
           AND updated_at < to_timestamp($1::int8 / 1000.0)
           AND status IN ('completed', 'failed', 'cancelled') AND status = ANY($2::text[])
         ORDER BY created_at, ord
         LIMIT $3
         FOR UPDATE SKIP LOCKED
       ), gone AS (
         DELETE FROM ${runs} WHERE id IN (SELECT id FROM doomed) RETURNING id, session_id
       ), steps_gone AS (
         DELETE FROM ${steps} WHERE run_id IN (SELECT id FROM gone)
       ), events_gone AS (
         DELETE FROM ${events} WHERE run_id IN (SELECT id FROM gone)
       ), sessions_gone AS (
         DELETE FROM ${sessions} AS s
         WHERE s.id IN (SELECT session_id FROM gone)
           AND NOT EXISTS (
             SELECT FROM ${runs} AS r
             WHERE r.session_id = s.id AND r.id NOT IN (SELECT id FROM gone))
       )
       SELECT count(*)::int4 AS n FROM gone`,
    ),
    /** `(id)` → a row when the failed or parked run is pending again; it is announced. */
    retry: announcing(
      "retry",
      `UPDATE ${runs} SET status = 'pending', seq = seq + 1, error = NULL,
         lease_owner = NULL, lease_expires_at = NULL, updated_at = ${now}
       WHERE id = $1 AND status IN ('failed', 'parked')`,
      "id",
      "true",
    ),
    /** `(id, expectedSeq, owner, leaseMs)` → the run when it was parked and is now leased. */
    claimParked: named(
      "claim_parked",
      `UPDATE ${runs} SET status = 'running', error = NULL,
         lease_owner = $3, lease_expires_at = ${leaseFor(4)}
       WHERE id = $1 AND status = 'parked' AND seq = $2
       RETURNING ${runColumns}`,
    ),
    /** `(runIds, checkpoints, names, attempts, startedAts, endedAts, errors)`, as arrays. */
    recordSteps: named(
      "record_steps",
      `INSERT INTO ${steps} (run_id, checkpoint, name, attempt, started_at, ended_at, error)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::int8[],
         $6::int8[], $7::text[])`,
    ),
    /** `(runId)` → its steps in the order recorded. */
    listSteps: named(
      "list_steps",
      `SELECT run_id, checkpoint, name, attempt, started_at, ended_at, error
       FROM ${steps} WHERE run_id = $1 ORDER BY ord`,
    ),
    /**
     * `(limit | null, statuses | null, workflow | null, waitEvent | null)`: one prepared
     * statement per combination of filters, each using only its own parameters.
     */
    list(
      limit: number | null,
      ...filters: [readonly string[] | null, string | null, string | null]
    ) {
      const mask = filters.reduce((m, f, i) => (f === null ? m : m | (1 << i)), 0);
      let statement = listed.get(mask);
      if (statement === undefined) {
        const conditions = ["status = ANY($#::text[])", "workflow = $#", "wait_event = $#"]
          .filter((_, i) => mask & (1 << i))
          .map((condition, i) => condition.replace("#", String(i + 2)));
        const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
        statement = named(
          `list_${mask}`,
          `SELECT ${runColumns} FROM ${runs} ${where}
           ORDER BY created_at DESC, ord DESC LIMIT $1`,
        );
        listed.set(mask, statement);
      }
      return statement(limit, ...filters.filter((f) => f !== null));
    },
  };
}

/** The highest `$n` in a statement. */
function countParameters(text: string): number {
  return Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
}

type Statements = ReturnType<typeof statements>;

/**
 * Commit statements of one adapter in flight at once under group commit: while one waits
 * for its WAL flush, the next batch is already gathering or on its way, and the rest of the
 * pool serves claims, creations and reads.
 */
const maxFlushes = 2;

/** A commit waiting for its group commit. */
interface QueuedCommit {
  readonly commit: Commit;
  readonly resolve: (outcome: CommitOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/** A `createRun` waiting for a grouped insert. */
interface QueuedCreation {
  readonly run: NewRun;
  readonly resolve: (created: { run: StoredRun; created: boolean }) => void;
  readonly reject: (error: unknown) => void;
}

/** One commit as a row of the `commitBatch` JSON (see the statement for the keys). */
interface BatchRow {
  i: string;
  q: number;
  o: string;
  s: RunStatus;
  f?: string;
  r?: string;
  e?: string;
  l?: number;
  sw?: 1 | 2;
  w?: number | null;
  sv?: true;
  v?: string | null;
  ve?: string | null;
  ci?: true;
}

function toBatchRow(commit: Commit): BatchRow {
  const row: BatchRow = {
    i: toText(commit.runId),
    q: commit.expectedSeq,
    o: toText(commit.owner),
    s: commit.status,
  };
  if (commit.frame !== undefined) row.f = toText(commit.frame);
  if (commit.result !== undefined) row.r = toText(commit.result);
  if (commit.error !== undefined) row.e = toText(commit.error);
  if (commit.leaseMs !== undefined && !terminalStatuses.has(commit.status)) row.l = commit.leaseMs;
  if (commit.wakeInMs !== undefined) {
    row.sw = 2;
    row.w = wholeMs(commit.wakeInMs);
  } else if (commit.wakeAt !== undefined) {
    row.sw = 1;
    row.w = commit.wakeAt;
  }
  if (commit.wait !== undefined) {
    row.sv = true;
    row.v = toText(commit.wait?.spec ?? null);
    row.ve = toText(commit.wait?.event ?? null);
  }
  if (commit.inbox !== undefined) row.ci = true;
  return row;
}

/**
 * Whether the server answered `error` for the statement, so its transaction was rolled
 * back and nothing was written. A dropped connection (no SQLSTATE, or class 08) or a server
 * shutting down (57P01–57P03) leaves the outcome unknown.
 */
function rolledBack(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === "string" &&
    /^[0-9A-Z]{5}$/.test(code) &&
    !code.startsWith("08") &&
    !code.startsWith("57P")
  );
}

/** The connection held for `LISTEN`, and how to detach the adapter's handlers from it. */
interface Listening {
  readonly client: PostgresPoolClient;
  readonly stop: () => void;
}

/** What `init()` sets up: the pool, and the pool to end in `close()` if the adapter opened it. */
interface Opened {
  readonly pool: PostgresPool;
  readonly owned: PG.Pool | undefined;
  /** Whether the pool reports how many rows a statement changed (`rowCount`), as `pg` does. */
  readonly counts: boolean;
}

/**
 * Settings of the pool the adapter opens, so a lost server is noticed and survived: a
 * connection attempt gives up after 10 s, a statement after 30 s (client side, so a dead
 * connection cannot hang a worker), TCP keep-alive finds half-open connections, and idle
 * connections are closed after 30 s. The engine retries what fails.
 */
export const poolDefaults = Object.freeze({
  connectionTimeoutMillis: 10_000,
  query_timeout: 30_000,
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000,
  idleTimeoutMillis: 30_000,
});

/**
 * An idle pooled connection that the server drops (a restart, `pg_terminate_backend`, a
 * failover) makes a `pg.Pool` emit `error`; the pool has already discarded the connection
 * and the next query opens another. With no listener that event would end the process, so
 * the adapter adds one to its own pool and to yours when it has none.
 */
function guardIdleErrors(pool: PostgresPool): void {
  const emitter = pool as Partial<{
    on(event: "error", listener: (error: Error) => void): unknown;
    listenerCount(event: string): number;
  }>;
  if (typeof emitter.on !== "function") return;
  if (typeof emitter.listenerCount === "function" && emitter.listenerCount("error") > 0) return;
  emitter.on("error", () => {});
}

/**
 * A {@link StorageAdapter} on PostgreSQL through node-postgres (`pg`): durable, shared by
 * any number of processes on any number of machines.
 *
 * Every method is one statement in autocommit, so one round trip and one transaction; a
 * failed commit reads once more to say why. Lease times come from the server's clock, and so
 * do wake times and wait deadlines the engine sends as delays (`Commit.wakeInMs`).
 */
export class PostgresAdapter implements StorageAdapter {
  /** @inheritDoc */
  readonly name = "postgres";
  /** The checked options this adapter was created with. */
  readonly config: PostgresAdapterConfig;
  readonly #sql: Statements;
  #opening: Promise<Opened> | undefined;
  #opened: Opened | undefined;
  #closed = false;
  readonly #listeners = new Set<{ readonly listener: () => void }>();
  #listening: Promise<Listening | undefined> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #firing = false;
  /** Commits waiting for a group commit. */
  #queue: QueuedCommit[] = [];
  /** Commit statements in flight from {@link PostgresAdapter.#drain}. */
  #flushes = 0;
  /** Creations waiting for a grouped insert. */
  #creations: QueuedCreation[] = [];
  /** Creating statements in flight from {@link PostgresAdapter.#drainCreations}. */
  #creating = 0;

  /** @param options - see {@link PostgresAdapterOptions}; checked and frozen here. */
  constructor(options: PostgresAdapterOptions) {
    this.config = resolvePostgresConfig(options);
    this.#sql = statements(this.config.schema, this.config.notify);
  }

  /** Open the pool (loading `pg` if needed) and migrate the schema. */
  async init(): Promise<void> {
    if (this.#closed) throw notReady("init() after close()");
    this.#opening ??= this.#open();
    await this.#opening;
  }

  /**
   * @inheritDoc
   *
   * With group commit (the default), runs created while two creating statements of this
   * adapter are in flight are inserted together in one statement, as commits are.
   */
  async createRun(run: NewRun): Promise<{ run: StoredRun; created: boolean }> {
    const { pool } = this.#ready("createRun");
    if (run.leaseOwner !== undefined && run.leaseMs === undefined) {
      throw new StorageError(
        "invalid-argument",
        `createRun("${run.id}") was given leaseOwner without leaseMs; pass both or neither.`,
      );
    }
    const group = this.config.groupCommit;
    if (group === false) return this.#createOne(pool, run);
    return new Promise((resolve, reject) => {
      this.#creations.push({ run, resolve, reject });
      if (this.#creating < maxFlushes) void this.#drainCreations(pool, group.maxBatch);
    });
  }

  async #drainCreations(pool: PostgresPool, maxBatch: number): Promise<void> {
    this.#creating++;
    try {
      while (this.#creations.length > 0) {
        // At most one run per id and per idempotency key in a statement, so each returned
        // row answers for exactly one creation.
        const batch: QueuedCreation[] = [];
        const left: QueuedCreation[] = [];
        const keys = new Set<string>();
        for (const queued of this.#creations) {
          const { id, idempotencyKey } = queued.run;
          const taken =
            keys.has(`i${id}`) || (idempotencyKey != null && keys.has(`k${idempotencyKey}`));
          if (batch.length < maxBatch && !taken) {
            keys.add(`i${id}`);
            if (idempotencyKey != null) keys.add(`k${idempotencyKey}`);
            batch.push(queued);
          } else {
            left.push(queued);
          }
        }
        this.#creations = left;
        if (batch.length === 1) {
          const [{ run, resolve, reject }] = batch;
          await this.#createOne(pool, run).then(resolve, reject);
        } else {
          await this.#createBatch(pool, batch);
        }
      }
    } finally {
      this.#creating--;
    }
  }

  async #createBatch(pool: PostgresPool, batch: QueuedCreation[]): Promise<void> {
    const rows = batch.map(({ run }, n) => {
      const leased = run.leaseOwner !== undefined;
      return {
        i: toText(run.id),
        w: toText(run.workflow),
        v: toText(run.version),
        s: leased ? "running" : "pending",
        a: toText(run.args),
        k: toText(run.idempotencyKey ?? null),
        se: toText(run.sessionId ?? null),
        o: leased ? toText(run.leaseOwner!) : null,
        l: leased ? run.leaseMs! : null,
        n,
      };
    });
    let created: Map<string, RunRow>;
    try {
      const result = await pool.query<RunRow>(this.#sql.createBatch(JSON.stringify(rows)));
      created = new Map(result.rows.map((row) => [row.id, row]));
    } catch (error) {
      if (!rolledBack(error)) {
        for (const queued of batch) queued.reject(error);
        return;
      }
      created = new Map();
    }
    // Whatever was not inserted (or the whole batch, if the server refused it) is created
    // alone: that finds the run with the same idempotency key, or says the id is taken.
    await Promise.all(
      batch.map((queued, n) => {
        const row = created.get(rows[n].i);
        if (row !== undefined) {
          queued.resolve({ run: toStoredRun(row), created: true });
          return undefined;
        }
        return this.#createOne(pool, queued.run).then(queued.resolve, queued.reject);
      }),
    );
  }

  async #createOne(pool: PostgresPool, run: NewRun): Promise<{ run: StoredRun; created: boolean }> {
    const idempotencyKey = toText(run.idempotencyKey ?? null);
    const leased = run.leaseOwner !== undefined;
    const values = [
      toText(run.id),
      toText(run.workflow),
      toText(run.version),
      leased ? "running" : "pending",
      toText(run.args),
      idempotencyKey,
      toText(run.sessionId ?? null),
      leased ? toText(run.leaseOwner!) : null,
      leased ? run.leaseMs! : null,
    ];
    const inserted = await pool.query<RunRow>(this.#sql.create(...values));
    if (inserted.rows.length === 1) return { run: toStoredRun(inserted.rows[0]), created: true };
    if (idempotencyKey !== null) {
      // The insert lost to a run with this key: ON CONFLICT waited for that run's
      // transaction, so this read (a new snapshot) sees it.
      const existing = await pool.query<RunRow>(this.#sql.byIdempotencyKey(idempotencyKey));
      if (existing.rows.length === 1) {
        return { run: toStoredRun(existing.rows[0]), created: false };
      }
    }
    throw new StorageError(
      "run-exists",
      `A run with id "${run.id}" already exists; choose another id, or pass the same idempotencyKey to get the existing run back.`,
    );
  }

  /** @inheritDoc */
  async loadRun(runId: string): Promise<StoredRun | null> {
    const { rows } = await this.#ready("loadRun").pool.query<RunRow>(this.#sql.load(toText(runId)));
    return rows.length === 0 ? null : toStoredRun(rows[0]);
  }

  /**
   * @inheritDoc
   *
   * With group commit (the default), a checkpoint that arrives while two commit statements
   * of this adapter are in flight waits for one of them to end and is then written with
   * every other checkpoint that arrived meanwhile, in one statement; it resolves once that
   * statement has committed. A commit with a session write is always its own statement.
   */
  async commit(commit: Commit): Promise<CommitOutcome> {
    const { pool } = this.#ready("commit");
    const group = this.config.groupCommit;
    if (group === false || commit.session !== undefined) return this.#commitOne(pool, commit);
    return new Promise<CommitOutcome>((resolve, reject) => {
      this.#queue.push({ commit, resolve, reject });
      if (this.#flushes < maxFlushes) void this.#drain(pool, group.maxBatch);
    });
  }

  /**
   * Send what is queued, batch after batch, until the queue is empty. The first batch is
   * taken at once, so a commit that finds the adapter idle is sent without waiting.
   */
  async #drain(pool: PostgresPool, maxBatch: number): Promise<void> {
    this.#flushes++;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#take(maxBatch);
        if (batch.length === 1) {
          const [{ commit, resolve, reject }] = batch;
          await this.#commitOne(pool, commit).then(resolve, reject);
        } else {
          await this.#commitBatch(pool, batch);
        }
      }
    } finally {
      this.#flushes--;
    }
  }

  /**
   * Up to `maxBatch` queued commits, oldest first, at most one per run: a second commit of
   * a run (two engines sharing this adapter) waits for the next batch, so each row of a
   * statement answers for exactly one commit.
   */
  #take(maxBatch: number): QueuedCommit[] {
    const queue = this.#queue;
    if (queue.length === 1) {
      this.#queue = [];
      return queue;
    }
    const batch: QueuedCommit[] = [];
    const left: QueuedCommit[] = [];
    const ids = new Set<string>();
    for (const queued of queue) {
      if (batch.length < maxBatch && !ids.has(queued.commit.runId)) {
        ids.add(queued.commit.runId);
        batch.push(queued);
      } else {
        left.push(queued);
      }
    }
    this.#queue = left;
    return batch;
  }

  /** Commit several runs' checkpoints in one statement, and settle each one's promise. */
  async #commitBatch(pool: PostgresPool, batch: QueuedCommit[]): Promise<void> {
    // In id order, like the row locks the statement takes.
    const rows = batch
      .map((queued) => ({ queued, row: toBatchRow(queued.commit) }))
      .sort((a, b) => (a.row.i < b.row.i ? -1 : a.row.i > b.row.i ? 1 : 0));
    let applied: Map<string, number>;
    try {
      const result = await pool.query<{ id: string; seq: number | string }>(
        this.#sql.commitBatch(JSON.stringify(rows.map(({ row }) => row))),
      );
      applied = new Map(result.rows.map((row) => [row.id, Number(row.seq)]));
    } catch (error) {
      if (!rolledBack(error)) {
        for (const { queued } of rows) queued.reject(error);
        return;
      }
      // The server refused the statement (a deadlock with a batch of another process, a
      // value it would not take, ...) and nothing of it was written: commit each run alone,
      // so each gets its own outcome or error.
      await Promise.all(
        rows.map(({ queued }) =>
          this.#commitOne(pool, queued.commit).then(queued.resolve, queued.reject),
        ),
      );
      return;
    }
    const refused = rows.filter(({ row }) => !applied.has(row.i));
    let owners = new Map<string, string | null>();
    if (refused.length > 0) {
      try {
        const { rows: states } = await pool.query<{ id: string; lease_owner: string | null }>(
          this.#sql.commitStates(refused.map(({ row }) => row.i)),
        );
        owners = new Map(states.map((state) => [state.id, state.lease_owner]));
      } catch (error) {
        for (const { queued } of refused) queued.reject(error);
        for (const { queued, row } of rows) {
          const seq = applied.get(row.i);
          if (seq !== undefined) queued.resolve({ ok: true, seq });
        }
        return;
      }
    }
    for (const { queued, row } of rows) {
      const seq = applied.get(row.i);
      if (seq !== undefined) queued.resolve({ ok: true, seq });
      else if (!owners.has(row.i)) queued.resolve({ ok: false, reason: "not-found" });
      else if (owners.get(row.i) !== row.o) queued.resolve({ ok: false, reason: "lease-lost" });
      else queued.resolve({ ok: false, reason: "conflict" });
    }
  }

  /** One commit as one statement (plus a read to say why, if it did not apply). */
  async #commitOne(pool: PostgresPool, commit: Commit): Promise<CommitOutcome> {
    const keepLease = commit.leaseMs !== undefined && !terminalStatuses.has(commit.status);
    const runId = toText(commit.runId);
    const owner = toText(commit.owner);
    if (mayKeepLease(commit)) {
      const args = [runId, commit.expectedSeq, owner, toText(commit.frame), commit.leaseMs];
      if (this.#opened?.counts === true) {
        const { rowCount } = await pool.query(this.#sql.commitKeptCounted(...args));
        if (rowCount === 1) return { ok: true, seq: commit.expectedSeq + 1 };
      } else {
        const { rows } = await pool.query<{ seq: number | string }>(this.#sql.commitKept(...args));
        if (rows.length === 1) return { ok: true, seq: Number(rows[0].seq) };
      }
    }
    const values = [
      runId,
      commit.expectedSeq,
      owner,
      commit.status,
      toText(commit.frame ?? null),
      toText(commit.result ?? null),
      toText(commit.error ?? null),
      keepLease ? commit.leaseMs! : null,
      commit.wakeInMs !== undefined ? 2 : commit.wakeAt !== undefined ? 1 : 0,
      commit.wakeInMs !== undefined ? wholeMs(commit.wakeInMs) : (commit.wakeAt ?? null),
      commit.wait !== undefined,
      toText(commit.wait?.spec ?? null),
      toText(commit.wait?.event ?? null),
      commit.inbox !== undefined,
    ];
    const { session } = commit;
    if (session === undefined) {
      const { rows } = await pool.query<{ seq: number | string }>(this.#sql.commit(...values));
      if (rows.length === 1) return { ok: true, seq: Number(rows[0].seq) };
    } else {
      const { rows } = await pool.query<{ seq: number | string | null; held: boolean }>(
        this.#sql.commitSession(
          ...values,
          toText(session.id),
          session.expectedVersion,
          toText(session.state),
        ),
      );
      const [{ seq, held }] = rows;
      if (seq !== null) return { ok: true, seq: Number(seq) };
      if (held) return { ok: false, reason: "session-conflict" };
    }
    const state = await pool.query<{ lease_owner: string | null }>(this.#sql.commitState(runId));
    if (state.rows.length === 0) return { ok: false, reason: "not-found" };
    if (state.rows[0].lease_owner !== owner) return { ok: false, reason: "lease-lost" };
    return { ok: false, reason: "conflict" };
  }

  /** @inheritDoc */
  async claimRunnable(options: ClaimOptions): Promise<StoredRun[]> {
    const { pool } = this.#ready("claimRunnable");
    if (options.limit <= 0 || options.workflows?.length === 0 || options.versions?.length === 0) {
      return [];
    }
    const values = [
      toText(options.owner),
      options.leaseMs,
      options.workflows?.map(toText) ?? null,
      options.versions?.map(toText) ?? null,
      options.limit,
    ];
    const { rows } = await pool.query<RunRow>(
      options.wakeBefore === undefined
        ? this.#sql.claim(...values)
        : options.wakeBeforeInMs !== undefined
          ? this.#sql.claimWithDue(...values, wholeMs(options.wakeBeforeInMs), true)
          : this.#sql.claimWithDue(...values, options.wakeBefore, false),
    );
    return rows.map(toStoredRun);
  }

  /** @inheritDoc */
  async renewLeases(owner: string, runIds: readonly string[], leaseMs: number): Promise<string[]> {
    const { pool } = this.#ready("renewLeases");
    if (runIds.length === 0) return [];
    const { rows } = await pool.query<{ id: string }>(
      this.#sql.renew(toText(owner), runIds.map(toText), leaseMs),
    );
    const renewed = new Set(rows.map((row) => fromText(row.id)));
    return [...new Set(runIds)].filter((id) => renewed.has(id));
  }

  /** @inheritDoc */
  async releaseLease(runId: string, owner: string): Promise<void> {
    const { pool } = this.#ready("releaseLease");
    await pool.query(this.#sql.release(toText(runId), toText(owner)));
  }

  /** @inheritDoc */
  async listRuns(query: RunQuery = {}): Promise<StoredRun[]> {
    const { pool } = this.#ready("listRuns");
    const statuses = query.status === undefined ? null : [query.status].flat();
    if (statuses?.length === 0 || (query.limit !== undefined && query.limit <= 0)) return [];
    const { rows } = await pool.query<RunRow>(
      this.#sql.list(
        query.limit ?? null,
        statuses,
        toText(query.workflow ?? null),
        toText(query.waitEvent ?? null),
      ),
    );
    return rows.map(toStoredRun);
  }

  /** @inheritDoc */
  async deliver(delivery: Delivery): Promise<boolean> {
    const { pool } = this.#ready("deliver");
    const values = [toText(delivery.runId), toText(delivery.wait), toText(delivery.payload)];
    const { rows } = await pool.query(
      delivery.eventId === undefined
        ? this.#sql.deliver(...values)
        : this.#sql.deliverEvent(...values, toText(delivery.eventId)),
    );
    return rows.length === 1;
  }

  /** @inheritDoc */
  async storeEvent(event: Omit<PendingEvent, "createdAt">): Promise<boolean> {
    const { pool } = this.#ready("storeEvent");
    const { rows } = await pool.query(
      this.#sql.storeEvent(
        toText(event.id),
        toText(event.runId),
        toText(event.name),
        toText(event.key),
        toText(event.payload),
      ),
    );
    return rows.length === 1;
  }

  /** @inheritDoc */
  async pendingEvents(runId?: string): Promise<PendingEvent[]> {
    const { pool } = this.#ready("pendingEvents");
    const { rows } = await pool.query<{
      id: string;
      run_id: string;
      name: string;
      key: string | null;
      payload: string;
      created_at: string | number;
    }>(runId === undefined ? this.#sql.pendingEvents() : this.#sql.pendingEventsOf(toText(runId)));
    return rows.map((row) => ({
      id: fromText(row.id),
      runId: fromText(row.run_id),
      name: fromText(row.name),
      key: fromText(row.key),
      payload: fromText(row.payload),
      createdAt: Number(row.created_at),
    }));
  }

  /** @inheritDoc */
  async cancel(runId: string, error: string): Promise<boolean> {
    const { pool } = this.#ready("cancel");
    const { rows } = await pool.query(this.#sql.cancel(toText(runId), toText(error)));
    return rows.length === 1;
  }

  /** @inheritDoc */
  async purge(options: PurgeFilter): Promise<number> {
    const { pool } = this.#ready("purge");
    if (options.statuses.length === 0 || options.limit <= 0) return 0;
    const { rows } = await pool.query<{ n: number }>(
      this.#sql.purge(Math.floor(options.before), [...options.statuses], options.limit),
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** @inheritDoc */
  async retry(runId: string): Promise<boolean> {
    const { pool } = this.#ready("retry");
    const { rows } = await pool.query(this.#sql.retry(toText(runId)));
    return rows.length === 1;
  }

  /** @inheritDoc */
  async claimParked(options: {
    readonly runId: string;
    readonly expectedSeq: number;
    readonly owner: string;
    readonly leaseMs: number;
  }): Promise<StoredRun | null> {
    const { pool } = this.#ready("claimParked");
    const { rows } = await pool.query<RunRow>(
      this.#sql.claimParked(
        toText(options.runId),
        options.expectedSeq,
        toText(options.owner),
        options.leaseMs,
      ),
    );
    return rows[0] === undefined ? null : toStoredRun(rows[0]);
  }

  /** @inheritDoc */
  async recordSteps(list: readonly StoredStep[]): Promise<void> {
    const { pool } = this.#ready("recordSteps");
    if (list.length === 0) return;
    await pool.query(
      this.#sql.recordSteps(
        list.map((step) => toText(step.runId)),
        list.map((step) => toText(step.checkpoint)),
        list.map((step) => toText(step.name)),
        list.map((step) => step.attempt),
        list.map((step) => step.startedAt),
        list.map((step) => step.endedAt),
        list.map((step) => toText(step.error)),
      ),
    );
  }

  /** @inheritDoc */
  async listSteps(runId: string): Promise<StoredStep[]> {
    const { pool } = this.#ready("listSteps");
    const { rows } = await pool.query<{
      run_id: string;
      checkpoint: string;
      name: string;
      attempt: number;
      started_at: string | number;
      ended_at: string | number;
      error: string | null;
    }>(this.#sql.listSteps(toText(runId)));
    return rows.map((row) => ({
      runId: fromText(row.run_id),
      checkpoint: fromText(row.checkpoint),
      name: fromText(row.name),
      attempt: Number(row.attempt),
      startedAt: Number(row.started_at),
      endedAt: Number(row.ended_at),
      error: fromText(row.error),
    }));
  }

  /** @inheritDoc */
  async loadSession(sessionId: string): Promise<StoredSession> {
    const { pool } = this.#ready("loadSession");
    const { rows } = await pool.query<{ state: string; version: number | string }>(
      this.#sql.loadSession(toText(sessionId)),
    );
    if (rows.length === 0) return { state: null, version: 0 };
    return { state: fromText(rows[0].state), version: Number(rows[0].version) };
  }

  /**
   * Call `listener` soon after runs of this store may have become claimable in any process
   * sharing it: a run was created unleased, or a lease was released. It is a hint to look
   * now rather than at the next poll; it says nothing about which runs, bursts are
   * coalesced into one call, and notifications can be missed (a dropped connection is
   * reopened after a second, followed by one call), so keep polling as well. Resolves to a
   * function that stops the calls. Needs `init()` first.
   *
   * Uses one connection of the pool for `LISTEN` while anyone is subscribed.
   */
  subscribe(listener: () => void): () => void {
    if (this.#closed) throw notReady("subscribe() after close()");
    if (this.#opening === undefined) throw notReady("subscribe() before init()");
    const entry = { listener };
    this.#listeners.add(entry);
    this.#listen();
    return () => {
      if (!this.#listeners.delete(entry) || this.#listeners.size > 0) return;
      void this.#unlisten();
    };
  }

  /** End the pool if this adapter opened it; a pool you passed stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await this.#unlisten();
    const opened = await this.#opening?.catch(() => undefined);
    this.#opened = undefined;
    await opened?.owned?.end();
  }

  #ready(method: string): Opened {
    if (this.#opened !== undefined) return this.#opened;
    throw notReady(this.#closed ? `${method}() after close()` : `${method}() before init()`);
  }

  async #open(): Promise<Opened> {
    const { source, schema } = this.config;
    let owned: PG.Pool | undefined;
    if (source.kind === "connectionString") {
      const pg = await loadDriver();
      owned = new pg.Pool({
        connectionString: source.connectionString,
        max: source.maxConnections,
        ...poolDefaults,
      });
    }
    const pool: PostgresPool = owned ?? (source as { readonly pool: PostgresPool }).pool;
    guardIdleErrors(pool);
    let counts: boolean;
    try {
      await migratePostgres(pool, schema);
      // A pool of your own may answer with rows alone, or count the rows it returns; then
      // every commit asks for its row back. So does a pool that cannot run the check (a role
      // that may read schema_version but not update it): the check is no reason to fail.
      counts = await pool.query(this.#sql.countProbe()).then(
        (probe) => probe.rowCount === 1 && probe.rows.length === 0,
        () => false,
      );
      if (this.#closed) throw notReady("init() raced with close()");
    } catch (error) {
      await owned?.end();
      throw error;
    }
    this.#opened = { pool, owned, counts };
    return this.#opened;
  }

  /** Hold a `LISTEN` connection while anyone is subscribed; reopen it when it drops. */
  #listen(): void {
    if (this.#listening !== undefined || this.#retryTimer !== undefined) return;
    const listening: Promise<Listening | undefined> = (async () => {
      const { pool } = await this.#opening!;
      const client = await pool.connect();
      const onNotification = (message: PostgresNotification) => {
        if (message.channel === runnableChannel && message.payload === this.config.schema) {
          this.#fire();
        }
      };
      const stop = () => {
        client.removeListener("notification", onNotification);
        client.removeListener("error", onError);
      };
      const onError = () => {
        stop();
        client.release(true);
        if (this.#listening === listening) {
          this.#listening = undefined;
          this.#retryListen();
        }
      };
      client.on("notification", onNotification);
      client.on("error", onError);
      try {
        await client.query({ text: `LISTEN ${runnableChannel}` });
      } catch (error) {
        stop();
        client.release(true);
        throw error;
      }
      return { client, stop };
    })().catch(() => {
      if (this.#listening === listening) {
        this.#listening = undefined;
        this.#retryListen();
      }
      return undefined;
    });
    this.#listening = listening;
  }

  #retryListen(): void {
    if (this.#closed || this.#listeners.size === 0 || this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#closed || this.#listeners.size === 0) return;
      this.#listen();
      // Whatever was announced while no connection listened is lost: look once now.
      this.#fire();
    }, 1000);
    this.#retryTimer.unref?.();
  }

  async #unlisten(): Promise<void> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const listening = this.#listening;
    this.#listening = undefined;
    const held = await listening;
    if (held === undefined) return;
    held.stop();
    // The connection goes back to the pool, so it must stop listening first; if it cannot
    // say so, the pool closes it instead.
    const failed = await held.client.query({ text: `UNLISTEN ${runnableChannel}` }).then(
      () => false,
      () => true,
    );
    held.client.release(failed);
  }

  /** Call the listeners once for everything announced in this turn of the event loop. */
  #fire(): void {
    if (this.#firing) return;
    this.#firing = true;
    setImmediate(() => {
      this.#firing = false;
      for (const { listener } of [...this.#listeners]) {
        try {
          listener();
        } catch (error) {
          console.error("[ratchet] a postgres subscribe() listener threw:", error);
        }
      }
    });
  }
}

/** Load pg only when a pool is opened, so importing this module needs no driver. */
async function loadDriver(): Promise<typeof PG> {
  try {
    const module = (await import("pg")) as { default?: typeof PG } & typeof PG;
    return module.default ?? module;
  } catch (cause) {
    throw new StorageError(
      "driver-missing",
      "The postgres adapter needs the pg package, which could not be loaded. " +
        "Install it with `npm install pg`.",
      { cause },
    );
  }
}

/**
 * PostgreSQL `text` cannot hold U+0000, but an adapter stores strings byte for byte. So a
 * string with U+0000 or U+FFFF is stored with U+FFFF as an escape: U+0000 as U+FFFF "0",
 * U+FFFF as U+FFFF U+FFFF. Strings without either (everything the runtime writes: its
 * serializer escapes control characters) are stored unchanged, and checked in two scans.
 */
function toText<T extends string | null>(value: T): T {
  if (value === null || !(value.includes("\0") || value.includes("\uffff"))) return value;
  return value.replace(/[\0\uffff]/g, (c) => (c === "\0" ? "\uffff0" : "\uffff\uffff")) as T;
}

function fromText<T extends string | null>(value: T): T {
  if (value === null || !value.includes("\uffff")) return value;
  return value.replace(/\uffff([0\uffff])/g, (_, c: string) => (c === "0" ? "\0" : "\uffff")) as T;
}

function toStoredRun(row: RunRow): StoredRun {
  return {
    id: fromText(row.id),
    workflow: fromText(row.workflow),
    version: fromText(row.version),
    status: row.status,
    seq: Number(row.seq),
    args: fromText(row.args),
    frame: fromText(row.frame),
    result: fromText(row.result),
    error: fromText(row.error),
    idempotencyKey: fromText(row.idempotency_key),
    sessionId: fromText(row.session_id),
    leaseOwner: fromText(row.lease_owner),
    leaseExpiresAt: row.lease_expires_at === null ? null : Number(row.lease_expires_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    wakeAt: row.wake_at === null ? null : Number(row.wake_at),
    wait: fromText(row.wait),
    waitEvent: fromText(row.wait_event),
    inbox: fromText(row.inbox),
  };
}

function notReady(what: string): StorageError {
  return new StorageError(
    "not-ready",
    `The postgres adapter was called with ${what}; call init() once before using it, and do not use it after close().`,
  );
}
