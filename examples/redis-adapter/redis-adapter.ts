/**
 * A storage adapter for Redis: an example of a custom `StorageAdapter`, written outside
 * Ratchet against its public contract (`ratchetjs/adapters`), that passes the conformance
 * suite (`ratchetjs/adapters/testing`) including the optional groups (deliver, cancel,
 * session state).
 *
 * Every method is one call of one Lua script (redis-script.ts), which Redis runs
 * atomically: that gives the compare-and-set commit, claims that never hand one run to
 * two workers, and deliveries that apply once, without WATCH/MULTI retries. Times
 * (`createdAt`, `updatedAt`, lease expiry) come from the Redis server's clock, so workers
 * whose clocks disagree agree on leases.
 *
 * Uses ioredis (`npm install ioredis`).
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import {
  type ClaimOptions,
  type Commit,
  type CommitOutcome,
  type Delivery,
  type NewRun,
  type RunQuery,
  type RunStatus,
  type StorageAdapter,
  StorageError,
  type StoredRun,
  type StoredSession,
} from "ratchetjs/adapters";
import { script } from "./redis-script.js";

export type RedisAdapterOptions = (
  | {
      /** A Redis URL, e.g. `redis://127.0.0.1:6379/0`; the adapter opens and closes its client. */
      readonly url: string;
    }
  | {
      /** Your ioredis client; the adapter leaves it open on `close()`. */
      readonly client: Redis;
    }
) & {
  /** Put in front of every key, so several stores can share one database (default `"ratchet:"`). */
  readonly prefix?: string;
};

/** A Ratchet store on Redis (one server; not Redis Cluster: the script builds key names). */
export function redis(options: RedisAdapterOptions): RedisAdapter {
  return new RedisAdapter(options);
}

const sha = createHash("sha1").update(script).digest("hex");

type Reply = string | number | null | Reply[];

export class RedisAdapter implements StorageAdapter {
  readonly name = "redis";
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #prefix: string;
  #ready = false;
  #closed = false;
  #subscriber: Redis | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(options: RedisAdapterOptions) {
    this.#prefix = options.prefix ?? "ratchet:";
    if ("client" in options) {
      this.#client = options.client;
      this.#owned = false;
    } else {
      this.#client = new Redis(options.url, { lazyConnect: true });
      this.#owned = true;
    }
  }

  /** Connect (when the adapter owns its client) and load the script. */
  async init(): Promise<void> {
    if (this.#closed) throw notReady("init");
    if (this.#client.status === "wait") await this.#client.connect();
    await this.#client.script("LOAD", script);
    this.#ready = true;
  }

  async createRun(run: NewRun): Promise<{ run: StoredRun; created: boolean }> {
    if (run.leaseOwner !== undefined && run.leaseMs === undefined) {
      throw new StorageError(
        "invalid-argument",
        `createRun("${run.id}") was given leaseOwner without leaseMs; pass both or neither.`,
      );
    }
    const reply = (await this.#call("createRun", "create", [
      run.id,
      run.workflow,
      run.version,
      run.args,
      ...optional(run.idempotencyKey),
      ...optional(run.sessionId),
      ...optional(run.leaseOwner),
      ...optional(run.leaseMs),
    ])) as [number, string[]?];
    if (reply[0] === -1) {
      throw new StorageError(
        "run-exists",
        `A run with id "${run.id}" already exists; choose another id, or pass the same idempotencyKey to get the existing run back.`,
      );
    }
    return { run: toRun(reply[1]!), created: reply[0] === 1 };
  }

  async loadRun(runId: string): Promise<StoredRun | null> {
    this.#check("loadRun");
    const flat = await this.#client.hgetall(`${this.#prefix}run:${runId}`);
    return Object.keys(flat).length === 0 ? null : toRun(Object.entries(flat).flat());
  }

  async commit(commit: Commit): Promise<CommitOutcome> {
    const mode = (value: unknown) => (value === undefined ? "k" : value === null ? "c" : "s");
    const [ok, detail] = (await this.#call("commit", "commit", [
      commit.runId,
      String(commit.expectedSeq),
      commit.owner,
      commit.status,
      ...optional(commit.frame),
      ...optional(commit.result),
      ...optional(commit.error),
      ...optional(commit.leaseMs),
      mode(commit.wakeAt),
      commit.wakeAt == null ? "" : String(commit.wakeAt),
      mode(commit.wait),
      commit.wait?.spec ?? "",
      ...optional(commit.wait?.event),
      commit.inbox === null ? "c" : "k",
      ...optional(commit.session?.id),
      String(commit.session?.expectedVersion ?? 0),
      commit.session?.state ?? "",
    ])) as [number, number | string];
    if (ok === 1) return { ok: true, seq: detail as number };
    return { ok: false, reason: detail as Exclude<CommitOutcome, { ok: true }>["reason"] };
  }

  /** A session's shared state and version (`null` at 0 for one never written). */
  async loadSession(sessionId: string): Promise<StoredSession> {
    this.#check("loadSession");
    const [state, version] = await this.#client.hmget(
      `${this.#prefix}session:${sessionId}`,
      "state",
      "version",
    );
    return { state, version: version === null ? 0 : Number(version) };
  }

  async claimRunnable(options: ClaimOptions): Promise<StoredRun[]> {
    this.#check("claimRunnable");
    if (options.limit <= 0 || options.workflows?.length === 0 || options.versions?.length === 0) {
      return [];
    }
    const reply = (await this.#call("claimRunnable", "claim", [
      options.owner,
      String(options.leaseMs),
      String(options.limit),
      ...list(options.workflows),
      ...list(options.versions),
      ...optional(options.wakeBefore),
    ])) as string[][];
    return reply.map(toRun);
  }

  async renewLeases(owner: string, runIds: readonly string[], leaseMs: number): Promise<string[]> {
    this.#check("renewLeases");
    if (runIds.length === 0) return [];
    return (await this.#call("renewLeases", "renew", [
      owner,
      String(leaseMs),
      ...runIds,
    ])) as string[];
  }

  async releaseLease(runId: string, owner: string): Promise<void> {
    await this.#call("releaseLease", "release", [runId, owner]);
  }

  async listRuns(query: RunQuery = {}): Promise<StoredRun[]> {
    this.#check("listRuns");
    if (query.limit === 0) return [];
    const statuses =
      query.status === undefined
        ? undefined
        : typeof query.status === "string"
          ? [query.status]
          : query.status;
    if (statuses?.length === 0) return [];
    const reply = (await this.#call("listRuns", "list", [
      ...list(statuses === undefined ? undefined : [...new Set<RunStatus>(statuses)]),
      ...optional(query.workflow),
      ...optional(query.waitEvent),
      ...optional(query.limit),
    ])) as string[][];
    return reply.map(toRun);
  }

  async deliver(delivery: Delivery): Promise<boolean> {
    const applied = await this.#call("deliver", "deliver", [
      delivery.runId,
      delivery.wait,
      delivery.payload,
    ]);
    return applied === 1;
  }

  async cancel(runId: string, error: string): Promise<boolean> {
    return (await this.#call("cancel", "cancel", [runId, error])) === 1;
  }

  /**
   * Wake-ups by Redis pub/sub: creating an unleased run, releasing a runnable run's lease
   * and delivering to a waiting run publish on `<prefix>runnable` from inside the script.
   * One extra connection listens while anyone is subscribed. A hint only: workers poll too.
   */
  subscribe(listener: () => void): () => void {
    this.#check("subscribe");
    this.#listeners.add(listener);
    if (this.#subscriber === undefined) {
      const subscriber = this.#client.duplicate();
      this.#subscriber = subscriber;
      subscriber.on("error", () => {});
      subscriber.on("message", () => {
        for (const l of [...this.#listeners]) l();
      });
      void subscriber.subscribe(`${this.#prefix}runnable`).catch(() => {});
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stopListening();
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ready = false;
    this.#listeners.clear();
    this.#stopListening();
    if (this.#owned) {
      if (this.#client.status === "wait") this.#client.disconnect();
      else await this.#client.quit().catch(() => this.#client.disconnect());
    }
  }

  #stopListening(): void {
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  #check(method: string): void {
    if (!this.#ready) throw notReady(method);
  }

  /** Run one operation of the script: by its hash, loading it again if the server lost it. */
  async #call(method: string, op: string, args: (string | number)[]): Promise<Reply> {
    this.#check(method);
    const argv = [this.#prefix, op, ...args.map(String)];
    try {
      return (await this.#client.evalsha(sha, 0, ...argv)) as Reply;
    } catch (error) {
      if (!String((error as Error).message).startsWith("NOSCRIPT")) throw error;
      return (await this.#client.eval(script, 0, ...argv)) as Reply;
    }
  }
}

function notReady(method: string): StorageError {
  return new StorageError(
    "not-ready",
    `redis adapter: ${method}() was called before init() or after close().`,
  );
}

/** A nullable argument as the script reads it: a flag, then the value. */
function optional(value: string | number | null | undefined): [string, string] {
  return value == null ? ["0", ""] : ["1", String(value)];
}

/** A list filter as the script reads it: the count (`-1`: no filter), then the items. */
function list(values: readonly string[] | undefined): string[] {
  return values === undefined ? ["-1"] : [String(values.length), ...values];
}

/** A run from its hash, as HGETALL returns it: field, value, field, value… */
function toRun(flat: readonly string[]): StoredRun {
  const h = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) h.set(flat[i], flat[i + 1]);
  const text = (field: string) => h.get(field) ?? null;
  const number = (field: string) => (h.has(field) ? Number(h.get(field)) : null);
  return {
    id: h.get("id")!,
    workflow: h.get("workflow")!,
    version: h.get("version")!,
    status: h.get("status") as RunStatus,
    seq: Number(h.get("seq")),
    args: h.get("args")!,
    frame: text("frame"),
    result: text("result"),
    error: text("error"),
    idempotencyKey: text("idempotencyKey"),
    sessionId: text("sessionId"),
    leaseOwner: text("leaseOwner"),
    leaseExpiresAt: number("leaseExpiresAt"),
    createdAt: Number(h.get("createdAt")),
    updatedAt: Number(h.get("updatedAt")),
    wakeAt: number("wakeAt"),
    wait: text("wait"),
    waitEvent: text("waitEvent"),
    inbox: text("inbox"),
  };
}
