import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Commit,
  type NewRun,
  type RunStatus,
  type StorageAdapter,
  StorageError,
  type StoredRun,
} from "../contract.js";

/** Makes a fresh, empty, not yet initialized adapter for one test. */
export type AdapterFactory = () => StorageAdapter | Promise<StorageAdapter>;

const hour = 3_600_000;
/**
 * An instant on the engine's clock. Wake times are only ever compared with `wakeBefore`,
 * never with the adapter's own clock, so the tests use fixed ones.
 */
const t0 = 1_700_000_000_000;

/** A serialized wait, opaque to the adapter. */
const waitSpec = (label: string) => JSON.stringify({ kind: "event", label });

/**
 * Register vitest tests that check an adapter against every point of the storage adapter
 * contract. Call it at the top level of a test file; `makeAdapter` runs once per test and
 * must return an empty store. The suite calls `init()` before each test and `close()`
 * after it. An adapter that passes works with the engine.
 *
 * The optional capabilities have their own groups, named "(optional)": `deliver` (with the
 * wake times, waits and inbox that `commit`, `claimRunnable` and `listRuns` handle for it),
 * `cancel`, `loadSession` (with the session writes that `commit` makes for it), `purge`,
 * `retry`, `claimParked`, `recordSteps` with `listSteps`, and `storeEvent` with `pendingEvents` (and
 * `deliver`). A group runs when the adapter has the method, and is reported as skipped
 * when it does not. To find out, `makeAdapter` is called once more while the tests are
 * collected; that adapter is closed without being initialized.
 *
 * The lease tests wait a few real milliseconds for leases to expire; the whole suite takes
 * well under a second on the built-in adapters.
 *
 * @param name - how the adapter appears in test names, e.g. `"postgres"`
 * @param makeAdapter - returns a new adapter on an empty store
 *
 * @example
 * ```ts
 * // my-adapter.test.ts
 * import { describeAdapterContract } from "ratchetjs/adapters/testing";
 * import { myAdapter } from "./my-adapter.js";
 *
 * describeAdapterContract("my adapter", () => myAdapter({ url: process.env.TEST_DB_URL! }));
 * ```
 */
export function describeAdapterContract(name: string, makeAdapter: AdapterFactory): void {
  describe(`${name}: storage adapter contract`, async () => {
    const probe = await makeAdapter();
    const has = {
      deliver: typeof probe.deliver === "function",
      cancel: typeof probe.cancel === "function",
      sessions: typeof probe.loadSession === "function",
      purge: typeof probe.purge === "function",
      retry: typeof probe.retry === "function",
      claimParked: typeof probe.claimParked === "function",
      steps: typeof probe.recordSteps === "function" && typeof probe.listSteps === "function",
      events:
        typeof probe.deliver === "function" &&
        typeof probe.storeEvent === "function" &&
        typeof probe.pendingEvents === "function",
    };
    await probe.close();

    let storage: StorageAdapter;
    let counter = 0;
    const nextId = (label: string) => `${label}-${++counter}`;

    /** A run spec with a fresh id; `overrides` wins. */
    const spec = (overrides: Partial<NewRun> = {}): NewRun => ({
      id: nextId("run"),
      workflow: "order",
      version: "v1",
      args: '["order-42"]',
      ...overrides,
    });
    const create = async (overrides: Partial<NewRun> = {}) =>
      (await storage.createRun(spec(overrides))).run;
    /** A run created already leased to `owner`. */
    const createLeased = (owner = "worker-a", leaseMs = hour, overrides: Partial<NewRun> = {}) =>
      create({ leaseOwner: owner, leaseMs, ...overrides });
    const load = async (runId: string) => {
      const run = await storage.loadRun(runId);
      if (run === null) throw new Error(`run ${runId} is missing`);
      return run;
    };
    /** Give a run any status by committing it as its lease owner. */
    const createWithStatus = async (status: RunStatus, overrides: Partial<NewRun> = {}) => {
      const run = await createLeased("setup", hour, overrides);
      const outcome = await storage.commit({
        runId: run.id,
        expectedSeq: run.seq,
        owner: "setup",
        status,
      });
      expect(outcome.ok).toBe(true);
      return load(run.id);
    };
    /** A run leased to "setup", then given `commit` by it. */
    const createCommitted = async (
      commit: Omit<Commit, "runId" | "expectedSeq" | "owner">,
      overrides: Partial<NewRun> = {},
    ) => {
      const run = await createLeased("setup", hour, overrides);
      const outcome = await storage.commit({
        runId: run.id,
        expectedSeq: run.seq,
        owner: "setup",
        ...commit,
      });
      expect(outcome.ok).toBe(true);
      return load(run.id);
    };
    /** A run asleep until `wakeAt`, unleased, as the engine leaves one. */
    const createSleeping = (wakeAt: number | null, overrides: Partial<NewRun> = {}) =>
      createCommitted({ status: "sleeping", wakeAt }, overrides);
    /** A run waiting, unleased, for `spec` (named `event`), timing out at `wakeAt`. */
    const createWaiting = (
      spec: string,
      event: string | null,
      wakeAt: number | null = null,
      overrides: Partial<NewRun> = {},
    ) => createCommitted({ status: "waiting", wait: { spec, event }, wakeAt }, overrides);

    beforeEach(async () => {
      storage = await makeAdapter();
      await storage.init();
    });
    afterEach(async () => {
      await storage.close();
    });

    it("has a name and tolerates a second init()", async () => {
      expect(typeof storage.name).toBe("string");
      expect(storage.name).not.toBe("");
      await storage.init();
      await create();
    });

    describe("createRun and loadRun", () => {
      it("stores a new run pending, unleased, at seq 0", async () => {
        const before = Date.now();
        const { run, created } = await storage.createRun(
          spec({ id: "r1", idempotencyKey: "k1", sessionId: "s1" }),
        );
        const after = Date.now();
        expect(created).toBe(true);
        expect(withWaitDefaults(run)).toEqual({
          id: "r1",
          workflow: "order",
          version: "v1",
          status: "pending",
          seq: 0,
          args: '["order-42"]',
          frame: null,
          result: null,
          error: null,
          idempotencyKey: "k1",
          sessionId: "s1",
          leaseOwner: null,
          leaseExpiresAt: null,
          createdAt: expect.any(Number),
          updatedAt: run.createdAt,
          ...noWait,
        });
        expect(run.createdAt).toBeGreaterThanOrEqual(before);
        expect(run.createdAt).toBeLessThanOrEqual(after);
        expect(await storage.loadRun("r1")).toEqual(run);
      });

      it("defaults idempotencyKey and sessionId to null", async () => {
        const run = await create();
        expect(run.idempotencyKey).toBeNull();
        expect(run.sessionId).toBeNull();
      });

      it("creates a run already leased to its creator when leaseOwner is given", async () => {
        const before = Date.now();
        const run = await createLeased("worker-a", 30_000);
        const after = Date.now();
        expect(run.status).toBe("running");
        expect(run.leaseOwner).toBe("worker-a");
        expect(run.leaseExpiresAt).toBeGreaterThanOrEqual(before + 30_000);
        expect(run.leaseExpiresAt).toBeLessThanOrEqual(after + 30_000);
        expect(await load(run.id)).toEqual(run);
      });

      it("refuses leaseOwner without leaseMs, even for a known idempotency key", async () => {
        await expect(storage.createRun(spec({ leaseOwner: "worker-a" }))).rejects.toMatchObject({
          name: "StorageError",
          code: "invalid-argument",
        });
        await create({ idempotencyKey: "k" });
        await expect(
          storage.createRun(spec({ idempotencyKey: "k", leaseOwner: "worker-a" })),
        ).rejects.toMatchObject({ code: "invalid-argument" });
        expect(await storage.listRuns()).toHaveLength(1);
      });

      it("resolves to null for an unknown id", async () => {
        expect(await storage.loadRun("no-such-run")).toBeNull();
      });

      it("stores strings byte for byte", async () => {
        const args = `["quote \\" backslash \\\\ nul \u0000 emoji 😀 newline \n tab \t", "é", "${"x".repeat(1_000_000)}"]`;
        const run = await create({ args, workflow: "wf 😀", version: "hash\u0000" });
        const loaded = await load(run.id);
        expect(loaded.args).toBe(args);
        expect(loaded.workflow).toBe("wf 😀");
        expect(loaded.version).toBe("hash\u0000");
        const frame = '{"pc":3,"vars":{"s":"\u0000😀"}}';
        const leased = await createLeased();
        await storage.commit({
          runId: leased.id,
          expectedSeq: 0,
          owner: "worker-a",
          status: "running",
          frame,
          leaseMs: hour,
        });
        expect((await load(leased.id)).frame).toBe(frame);
      });

      it("rejects a second run with a taken id, leaving the first unchanged", async () => {
        const first = await create({ id: "dup" });
        const attempt = storage.createRun(spec({ id: "dup", workflow: "other" }));
        await expect(attempt).rejects.toBeInstanceOf(StorageError);
        await expect(attempt).rejects.toMatchObject({ code: "run-exists" });
        await expect(
          storage.createRun(spec({ id: "dup", idempotencyKey: "fresh-key" })),
        ).rejects.toMatchObject({ code: "run-exists" });
        expect(await load("dup")).toEqual(first);
        expect(await storage.listRuns()).toHaveLength(1);
      });

      it("returns the existing run for a repeated idempotency key and stores nothing", async () => {
        const first = await storage.createRun(spec({ id: "a", idempotencyKey: "order-42" }));
        const again = await storage.createRun(
          spec({ id: "b", idempotencyKey: "order-42", args: "[]", leaseOwner: "w", leaseMs: 1 }),
        );
        expect(again.created).toBe(false);
        expect(again.run).toEqual(first.run);
        const same = await storage.createRun(spec({ id: "a", idempotencyKey: "order-42" }));
        expect(same).toEqual({ run: first.run, created: false });
        expect(await storage.loadRun("b")).toBeNull();
        expect(await storage.listRuns()).toHaveLength(1);
      });

      it("creates separate runs for different idempotency keys and for no key", async () => {
        await create({ idempotencyKey: "k1" });
        await create({ idempotencyKey: "k2" });
        await create();
        await create();
        expect(await storage.listRuns()).toHaveLength(4);
      });

      it("creates exactly one run when creations with one key race", async () => {
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            storage.createRun(spec({ id: `racer-${i}`, idempotencyKey: "same" })),
          ),
        );
        expect(outcomes.filter((o) => o.created)).toHaveLength(1);
        expect(new Set(outcomes.map((o) => o.run.id)).size).toBe(1);
        expect(await storage.listRuns()).toHaveLength(1);
      });

      it("hands out copies: mutating a returned run changes nothing stored", async () => {
        const created = await createLeased("worker-a", hour, { id: "m" });
        const before = await load("m");
        const scribble = (run: StoredRun) => {
          Object.assign(run, { status: "failed", seq: 99, leaseOwner: "thief", args: "[]" });
        };
        scribble(created);
        scribble(await load("m"));
        for (const run of await storage.listRuns()) scribble(run);
        await storage.releaseLease("m", "worker-a");
        for (const run of await storage.claimRunnable({
          owner: "worker-a",
          leaseMs: hour,
          limit: 5,
        })) {
          expect(run.seq).toBe(0);
          scribble(run);
        }
        expect(await load("m")).toEqual({ ...before, leaseExpiresAt: expect.any(Number) });
      });
    });

    describe("commit", () => {
      it("writes everything, increments seq and extends the lease", async () => {
        const run = await createLeased("worker-a", 1_000);
        const before = Date.now();
        const outcome = await storage.commit({
          runId: run.id,
          expectedSeq: 0,
          owner: "worker-a",
          status: "sleeping",
          frame: '{"pc":1}',
          result: '"partial"',
          error: '{"message":"boom"}',
          leaseMs: 60_000,
        });
        const after = Date.now();
        expect(outcome).toEqual({ ok: true, seq: 1 });
        const stored = await load(run.id);
        expect(stored).toMatchObject({
          status: "sleeping",
          seq: 1,
          frame: '{"pc":1}',
          result: '"partial"',
          error: '{"message":"boom"}',
          leaseOwner: "worker-a",
          createdAt: run.createdAt,
        });
        expect(stored.leaseExpiresAt).toBeGreaterThanOrEqual(before + 60_000);
        expect(stored.leaseExpiresAt).toBeLessThanOrEqual(after + 60_000);
        expect(stored.updatedAt).toBeGreaterThanOrEqual(before);
        expect(stored.updatedAt).toBeLessThanOrEqual(after);
      });

      it("keeps the stored frame, result and error when a commit omits them", async () => {
        const run = await createLeased();
        const first = {
          runId: run.id,
          owner: "worker-a",
          status: "running",
          leaseMs: hour,
        } as const;
        await storage.commit({ ...first, expectedSeq: 0, frame: "f1", result: "r1", error: "e1" });
        expect(await storage.commit({ ...first, expectedSeq: 1 })).toEqual({ ok: true, seq: 2 });
        expect(await load(run.id)).toMatchObject({
          seq: 2,
          frame: "f1",
          result: "r1",
          error: "e1",
        });
        await storage.commit({ ...first, expectedSeq: 2, frame: "f2" });
        expect(await load(run.id)).toMatchObject({ seq: 3, frame: "f2", result: "r1" });
      });

      it("counts seq up across many commits", async () => {
        const run = await createLeased();
        for (let seq = 0; seq < 10; seq++) {
          const outcome = await storage.commit({
            runId: run.id,
            expectedSeq: seq,
            owner: "worker-a",
            status: "running",
            frame: `{"pc":${seq}}`,
            leaseMs: hour,
          });
          expect(outcome).toEqual({ ok: true, seq: seq + 1 });
        }
        expect(await load(run.id)).toMatchObject({ seq: 10, frame: '{"pc":9}' });
      });

      it("reports conflict for a stale seq and writes nothing", async () => {
        const run = await createLeased();
        const base = {
          runId: run.id,
          owner: "worker-a",
          status: "running",
          leaseMs: hour,
        } as const;
        await storage.commit({ ...base, expectedSeq: 0, frame: "f1" });
        const stored = await load(run.id);
        for (const expectedSeq of [0, 2, -1]) {
          expect(await storage.commit({ ...base, expectedSeq, frame: "stale" })).toEqual({
            ok: false,
            reason: "conflict",
          });
        }
        expect(await load(run.id)).toEqual(stored);
      });

      it("reports lease-lost for another owner and writes nothing", async () => {
        const run = await createLeased("worker-a");
        const outcome = await storage.commit({
          runId: run.id,
          expectedSeq: 0,
          owner: "worker-b",
          status: "completed",
          result: "stolen",
        });
        expect(outcome).toEqual({ ok: false, reason: "lease-lost" });
        expect(await load(run.id)).toEqual(run);
      });

      it("reports lease-lost for an unleased run, even with a stale seq", async () => {
        const run = await create();
        expect(
          await storage.commit({ runId: run.id, expectedSeq: 0, owner: "w", status: "running" }),
        ).toEqual({ ok: false, reason: "lease-lost" });
        const leased = await createLeased("worker-a");
        expect(
          await storage.commit({
            runId: leased.id,
            expectedSeq: 7,
            owner: "worker-b",
            status: "running",
          }),
        ).toEqual({ ok: false, reason: "lease-lost" });
      });

      it("reports not-found for an unknown run", async () => {
        expect(
          await storage.commit({ runId: "ghost", expectedSeq: 0, owner: "w", status: "failed" }),
        ).toEqual({ ok: false, reason: "not-found" });
        expect(await storage.loadRun("ghost")).toBeNull();
      });

      it.each(["completed", "failed", "cancelled"] as const)(
        "releases the lease when the run ends %s, even if leaseMs is given",
        async (status) => {
          const run = await createLeased("worker-a");
          const outcome = await storage.commit({
            runId: run.id,
            expectedSeq: 0,
            owner: "worker-a",
            status,
            result: status === "completed" ? '"done"' : undefined,
            error: status === "completed" ? undefined : '"why"',
            leaseMs: hour,
          });
          expect(outcome).toEqual({ ok: true, seq: 1 });
          const stored = await load(run.id);
          expect(stored).toMatchObject({ status, leaseOwner: null, leaseExpiresAt: null });
          expect(
            await storage.commit({ runId: run.id, expectedSeq: 1, owner: "worker-a", status }),
          ).toEqual({ ok: false, reason: "lease-lost" });
          expect(await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 10 })).toEqual([]);
        },
      );

      it("releases the lease when a non-terminal commit omits leaseMs", async () => {
        const run = await createLeased("worker-a");
        await storage.commit({
          runId: run.id,
          expectedSeq: 0,
          owner: "worker-a",
          status: "waiting",
        });
        expect(await load(run.id)).toMatchObject({
          status: "waiting",
          seq: 1,
          leaseOwner: null,
          leaseExpiresAt: null,
        });
      });

      it("lets the owner of an expired lease commit while no one else has claimed the run", async () => {
        const run = await createLeased("worker-a", 1);
        await sleep(5);
        expect(
          await storage.commit({
            runId: run.id,
            expectedSeq: 0,
            owner: "worker-a",
            status: "running",
            leaseMs: hour,
          }),
        ).toEqual({ ok: true, seq: 1 });
      });

      it("lets exactly one of many racing commits with the same expectedSeq win", async () => {
        const run = await createLeased("worker-a");
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            storage.commit({
              runId: run.id,
              expectedSeq: 0,
              owner: "worker-a",
              status: "running",
              frame: `frame-${i}`,
              leaseMs: hour,
            }),
          ),
        );
        const winners = outcomes.flatMap((o, i) => (o.ok ? [i] : []));
        expect(winners).toHaveLength(1);
        expect(outcomes.filter((o) => !o.ok)).toEqual(
          Array.from({ length: 19 }, () => ({ ok: false, reason: "conflict" })),
        );
        expect(await load(run.id)).toMatchObject({ seq: 1, frame: `frame-${winners[0]}` });
      });
    });

    describe("claimRunnable", () => {
      it("leases pending runs to the claimer and marks them running, seq unchanged", async () => {
        const run = await create();
        const before = Date.now();
        const claimed = await storage.claimRunnable({
          owner: "worker-a",
          leaseMs: 5_000,
          limit: 5,
        });
        const after = Date.now();
        expect(claimed).toHaveLength(1);
        const [lease] = claimed;
        expect(lease).toMatchObject({
          id: run.id,
          status: "running",
          seq: 0,
          leaseOwner: "worker-a",
          updatedAt: run.updatedAt,
        });
        expect(lease.leaseExpiresAt).toBeGreaterThanOrEqual(before + 5_000);
        expect(lease.leaseExpiresAt).toBeLessThanOrEqual(after + 5_000);
        expect(await load(run.id)).toEqual(lease);
        expect(
          await storage.commit({
            runId: run.id,
            expectedSeq: lease.seq,
            owner: "worker-a",
            status: "running",
            leaseMs: hour,
          }),
        ).toEqual({ ok: true, seq: 1 });
      });

      it("skips runs under a live lease", async () => {
        await createLeased("worker-a", hour);
        expect(await storage.claimRunnable({ owner: "worker-b", leaseMs: hour, limit: 5 })).toEqual(
          [],
        );
        expect(await storage.claimRunnable({ owner: "worker-a", leaseMs: hour, limit: 5 })).toEqual(
          [],
        );
      });

      it("takes over runs whose lease expired, and the old owner loses its lease", async () => {
        const run = await createLeased("worker-a", 1);
        await sleep(5);
        const claimed = await storage.claimRunnable({ owner: "worker-b", leaseMs: hour, limit: 5 });
        expect(claimed.map((r) => [r.id, r.leaseOwner])).toEqual([[run.id, "worker-b"]]);
        expect(
          await storage.commit({
            runId: run.id,
            expectedSeq: 0,
            owner: "worker-a",
            status: "failed",
          }),
        ).toEqual({ ok: false, reason: "lease-lost" });
        expect(await storage.renewLeases("worker-a", [run.id], hour)).toEqual([]);
      });

      it("claims only pending and running runs", async () => {
        const statuses: RunStatus[] = [
          "sleeping",
          "waiting",
          "completed",
          "failed",
          "cancelled",
          "parked",
        ];
        for (const status of statuses) await createWithStatus(status);
        const running = await createWithStatus("running");
        expect(running.leaseOwner).toBeNull();
        const pending = await create();
        const claimed = await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 100 });
        expect(claimed.map((r) => r.id).sort()).toEqual([running.id, pending.id].sort());
        for (const run of await storage.listRuns({ status: statuses })) {
          expect(run.leaseOwner).toBeNull();
        }
      });

      it("claims oldest first, at most limit", async () => {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push((await create()).id);
        const first = await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 2 });
        expect(first.map((r) => r.id)).toEqual(ids.slice(0, 2));
        const rest = await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 10 });
        expect(rest.map((r) => r.id)).toEqual(ids.slice(2));
        expect(await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 10 })).toEqual([]);
      });

      it("claims nothing for limit 0", async () => {
        await create();
        expect(await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 0 })).toEqual([]);
      });

      it("claims only runs of the listed workflows; an empty list claims nothing", async () => {
        const order = await create({ workflow: "order" });
        const refund = await create({ workflow: "refund" });
        await create({ workflow: "report" });
        expect(
          await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 10, workflows: [] }),
        ).toEqual([]);
        const claimed = await storage.claimRunnable({
          owner: "w",
          leaseMs: hour,
          limit: 10,
          workflows: ["refund", "order", "unknown"],
        });
        expect(claimed.map((r) => r.id)).toEqual([order.id, refund.id]);
        const rest = await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 10 });
        expect(rest.map((r) => r.workflow)).toEqual(["report"]);
      });

      it("claims only runs of the listed versions; an empty list claims nothing", async () => {
        const v1 = await create({ version: "v1" });
        const v2 = await create({ version: "v2" });
        const v3 = await create({ version: "v3" });
        expect(
          await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 10, versions: [] }),
        ).toEqual([]);
        const claimed = await storage.claimRunnable({
          owner: "w",
          leaseMs: hour,
          limit: 10,
          versions: ["v2", "v1", "v9"],
        });
        expect(claimed.map((r) => r.id)).toEqual([v1.id, v2.id]);
        expect(await load(v3.id)).toEqual(v3);
        const rest = await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 10 });
        expect(rest.map((r) => r.id)).toEqual([v3.id]);
      });

      it("never claims a run of an unlisted version, even with an expired lease", async () => {
        const stale = await createLeased("worker-a", 1, { version: "v0" });
        await sleep(5);
        for (let round = 0; round < 3; round++) {
          expect(
            await storage.claimRunnable({
              owner: "worker-b",
              leaseMs: hour,
              limit: 10,
              versions: ["v1"],
            }),
          ).toEqual([]);
        }
        expect(await load(stale.id)).toEqual(stale);
      });

      it("claims only runs that match both workflows and versions when both are given", async () => {
        const orderV1 = await create({ workflow: "order", version: "v1" });
        const orderV2 = await create({ workflow: "order", version: "v2" });
        const refundV1 = await create({ workflow: "refund", version: "v1" });
        const refundR1 = await create({ workflow: "refund", version: "r1" });
        const reportV1 = await create({ workflow: "report", version: "v1" });
        const both = { owner: "w", leaseMs: hour, limit: 10 };
        expect(
          await storage.claimRunnable({ ...both, workflows: ["order"], versions: [] }),
        ).toEqual([]);
        expect(await storage.claimRunnable({ ...both, workflows: [], versions: ["v1"] })).toEqual(
          [],
        );
        const claimed = await storage.claimRunnable({
          ...both,
          workflows: ["order", "refund"],
          versions: ["v1", "r1"],
        });
        expect(claimed.map((r) => r.id)).toEqual([orderV1.id, refundV1.id, refundR1.id]);
        for (const run of [orderV2, reportV1]) expect(await load(run.id)).toEqual(run);
      });

      it("never hands one run to two racing claims", async () => {
        const ids = new Set<string>();
        for (let i = 0; i < 60; i++) ids.add((await create()).id);
        const batches = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            storage.claimRunnable({ owner: `worker-${i}`, leaseMs: hour, limit: 3 }),
          ),
        );
        const claimed = batches.flat();
        expect(claimed).toHaveLength(60);
        expect(new Set(claimed.map((r) => r.id))).toEqual(ids);
        for (const [i, batch] of batches.entries()) {
          for (const run of batch) {
            expect((await load(run.id)).leaseOwner).toBe(`worker-${i}`);
          }
        }
      });
    });

    describe("renewLeases and releaseLease", () => {
      it("extends only the leases the owner holds, in the order given", async () => {
        const a = await createLeased("worker-a", 1_000);
        const b = await createLeased("worker-a", 1_000);
        const other = await createLeased("worker-b", 1_000);
        const unleased = await create();
        const before = Date.now();
        const renewed = await storage.renewLeases(
          "worker-a",
          [b.id, other.id, "ghost", unleased.id, a.id],
          60_000,
        );
        const after = Date.now();
        expect(renewed).toEqual([b.id, a.id]);
        for (const original of [a, b]) {
          const run = await load(original.id);
          expect(run.leaseExpiresAt).toBeGreaterThanOrEqual(before + 60_000);
          expect(run.leaseExpiresAt).toBeLessThanOrEqual(after + 60_000);
          expect(run).toEqual({ ...original, leaseExpiresAt: run.leaseExpiresAt });
        }
        expect(await load(other.id)).toEqual(other);
        expect(await load(unleased.id)).toEqual(unleased);
        expect(await storage.renewLeases("worker-a", [], 60_000)).toEqual([]);
      });

      it("renews a lease that expired while no one else claimed the run", async () => {
        const run = await createLeased("worker-a", 1);
        await sleep(5);
        expect(await storage.renewLeases("worker-a", [run.id], hour)).toEqual([run.id]);
        expect(await storage.claimRunnable({ owner: "worker-b", leaseMs: hour, limit: 5 })).toEqual(
          [],
        );
      });

      it("releases a held lease at once, keeping the status, so others can claim", async () => {
        const run = await createLeased("worker-a", hour);
        await storage.releaseLease(run.id, "worker-a");
        expect(await load(run.id)).toEqual({ ...run, leaseOwner: null, leaseExpiresAt: null });
        const claimed = await storage.claimRunnable({ owner: "worker-b", leaseMs: hour, limit: 5 });
        expect(claimed.map((r) => r.id)).toEqual([run.id]);
      });

      it("ignores a release by someone who does not hold the lease", async () => {
        const run = await createLeased("worker-a", hour);
        await storage.releaseLease(run.id, "worker-b");
        await storage.releaseLease("ghost", "worker-a");
        expect(await load(run.id)).toEqual(run);
      });
    });

    describe("listRuns", () => {
      it("lists every run newest first", async () => {
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) ids.push((await create()).id);
        expect((await storage.listRuns()).map((r) => r.id)).toEqual(ids.reverse());
        expect((await storage.listRuns({})).map((r) => r.id)).toEqual(ids);
      });

      it("filters by one status or several; an empty list matches nothing", async () => {
        const pending = await create();
        const done = await createWithStatus("completed");
        const parked = await createWithStatus("parked");
        const ids = async (status: RunStatus | RunStatus[]) =>
          (await storage.listRuns({ status })).map((r) => r.id);
        expect(await ids("completed")).toEqual([done.id]);
        expect(await ids(["pending", "parked"])).toEqual([parked.id, pending.id]);
        expect(await ids(["failed"])).toEqual([]);
        expect(await ids([])).toEqual([]);
      });

      it("filters by workflow, combines filters and honours limit", async () => {
        const o1 = await create({ workflow: "order" });
        await create({ workflow: "refund" });
        const o2 = await createWithStatus("failed", { workflow: "order" });
        const o3 = await create({ workflow: "order" });
        const list = async (query: Parameters<StorageAdapter["listRuns"]>[0]) =>
          (await storage.listRuns(query)).map((r) => r.id);
        expect(await list({ workflow: "order" })).toEqual([o3.id, o2.id, o1.id]);
        expect(await list({ workflow: "order", status: "pending" })).toEqual([o3.id, o1.id]);
        expect(await list({ workflow: "order", limit: 2 })).toEqual([o3.id, o2.id]);
        expect(await list({ workflow: "order", status: ["pending"], limit: 1 })).toEqual([o3.id]);
        expect(await list({ limit: 0 })).toEqual([]);
        expect(await list({ workflow: "nope" })).toEqual([]);
      });
    });

    describe.runIf(has.deliver)(
      "wake times, waits and inbox in commit (optional, with deliver)",
      () => {
        it("creates runs with no wake time, wait or inbox", async () => {
          const pending = await create();
          const leased = await createLeased();
          for (const run of [pending, leased, await load(pending.id), await load(leased.id)]) {
            expect(run).toMatchObject(noWait);
          }
        });

        it("sets wakeAt and the wait with its event, and keeps them when a commit omits them", async () => {
          const run = await createLeased();
          const base = { runId: run.id, owner: "worker-a", leaseMs: hour } as const;
          expect(
            await storage.commit({
              ...base,
              expectedSeq: 0,
              status: "waiting",
              wait: { spec: waitSpec("paid"), event: "paid" },
              wakeAt: t0 + 5_000,
            }),
          ).toEqual({ ok: true, seq: 1 });
          const waiting = { wakeAt: t0 + 5_000, wait: waitSpec("paid"), waitEvent: "paid" };
          expect(await load(run.id)).toMatchObject({ status: "waiting", seq: 1, ...waiting });
          await storage.commit({ ...base, expectedSeq: 1, status: "waiting", frame: "f" });
          expect(await load(run.id)).toMatchObject({ seq: 2, frame: "f", ...waiting, inbox: null });
        });

        it("sets a wait without an event name, and a sleep without a wait", async () => {
          const waiter = await createCommitted({
            status: "waiting",
            wait: { spec: waitSpec("user"), event: null },
          });
          expect(waiter).toMatchObject({ wait: waitSpec("user"), waitEvent: null, wakeAt: null });
          const sleeper = await createSleeping(t0);
          expect(sleeper).toMatchObject({ status: "sleeping", wakeAt: t0, wait: null });
        });

        it("clears wakeAt and the wait (spec and event together) with null, each on its own", async () => {
          const run = await createLeased();
          const base = {
            runId: run.id,
            owner: "worker-a",
            status: "running",
            leaseMs: hour,
          } as const;
          await storage.commit({
            ...base,
            expectedSeq: 0,
            wait: { spec: waitSpec("paid"), event: "paid" },
            wakeAt: t0,
          });
          await storage.commit({ ...base, expectedSeq: 1, wakeAt: null });
          expect(await load(run.id)).toMatchObject({
            wakeAt: null,
            wait: waitSpec("paid"),
            waitEvent: "paid",
          });
          await storage.commit({ ...base, expectedSeq: 2, wakeAt: t0 + 1 });
          await storage.commit({ ...base, expectedSeq: 3, wait: null });
          expect(await load(run.id)).toMatchObject({ wakeAt: t0 + 1, wait: null, waitEvent: null });
          await storage.commit({ ...base, expectedSeq: 4, wakeAt: null, wait: null });
          expect(await load(run.id)).toMatchObject({ seq: 5, ...noWait });
        });

        it("keeps the inbox when a commit omits it, and clears it with null", async () => {
          const waiter = await createWaiting(waitSpec("paid"), "paid");
          expect(
            await storage.deliver!({ runId: waiter.id, wait: waiter.wait!, payload: "42" }),
          ).toBe(true);
          const [claimed] = await storage.claimRunnable({
            owner: "worker-a",
            leaseMs: hour,
            limit: 1,
          });
          expect(claimed).toMatchObject({ id: waiter.id, inbox: "42" });
          const base = {
            runId: waiter.id,
            owner: "worker-a",
            status: "running",
            leaseMs: hour,
          } as const;
          await storage.commit({ ...base, expectedSeq: claimed.seq, frame: "f" });
          expect(await load(waiter.id)).toMatchObject({ frame: "f", inbox: "42" });
          await storage.commit({ ...base, expectedSeq: claimed.seq + 1, inbox: null });
          expect(await load(waiter.id)).toMatchObject({ seq: claimed.seq + 2, inbox: null });
        });

        it("writes none of them when the commit fails, and still says why", async () => {
          const run = await createLeased("worker-a");
          const changes = {
            status: "sleeping",
            wakeAt: t0,
            wait: { spec: waitSpec("x"), event: "x" },
            inbox: null,
          } as const;
          const commit = (expectedSeq: number, owner: string, runId = run.id) =>
            storage.commit({ runId, expectedSeq, owner, ...changes });
          expect(await commit(3, "worker-a")).toEqual({ ok: false, reason: "conflict" });
          expect(await commit(0, "worker-b")).toEqual({ ok: false, reason: "lease-lost" });
          expect(await commit(0, "worker-a", "ghost")).toEqual({ ok: false, reason: "not-found" });
          expect(await load(run.id)).toEqual(run);
        });
      },
    );

    describe.runIf(has.deliver)("claimRunnable with wakeBefore (optional, with deliver)", () => {
      it("claims due sleepers and timed-out waiters, not future ones nor ones without wakeAt", async () => {
        const dueSleeper = await createSleeping(t0 - 1_000);
        const sleeperAtWakeBefore = await createSleeping(t0);
        const timedOut = await createWaiting(waitSpec("paid"), "paid", t0 - 1);
        const untouched = [
          await createSleeping(t0 + 1),
          await createSleeping(null),
          await createWaiting(waitSpec("later"), "later", t0 + hour),
          await createWaiting(waitSpec("forever"), "forever", null),
          await createCommitted({ status: "completed", wakeAt: t0 - 1 }),
          await createCommitted({ status: "cancelled", wakeAt: t0 - 1 }),
          await createCommitted({ status: "parked", wakeAt: t0 - 1 }),
        ];
        const before = Date.now();
        const claimed = await storage.claimRunnable({
          owner: "worker-a",
          leaseMs: 5_000,
          limit: 10,
          wakeBefore: t0,
        });
        const after = Date.now();
        expect(claimed.map((r) => r.id)).toEqual([
          dueSleeper.id,
          sleeperAtWakeBefore.id,
          timedOut.id,
        ]);
        // A claim is not a commit: only the status and the lease change.
        for (const [i, original] of [dueSleeper, sleeperAtWakeBefore, timedOut].entries()) {
          const run = claimed[i];
          expect(run).toEqual({
            ...original,
            status: "running",
            leaseOwner: "worker-a",
            leaseExpiresAt: expect.any(Number),
          });
          expect(run.leaseExpiresAt).toBeGreaterThanOrEqual(before + 5_000);
          expect(run.leaseExpiresAt).toBeLessThanOrEqual(after + 5_000);
          expect(await load(run.id)).toEqual(run);
        }
        for (const run of untouched) expect(await load(run.id)).toEqual(run);
        expect(
          await storage.commit({
            runId: timedOut.id,
            expectedSeq: timedOut.seq,
            owner: "worker-a",
            status: "running",
            wait: null,
            wakeAt: null,
            leaseMs: hour,
          }),
        ).toEqual({ ok: true, seq: timedOut.seq + 1 });
      });

      it("never claims sleepers or waiters without wakeBefore", async () => {
        const sleeper = await createSleeping(0);
        const waiter = await createWaiting(waitSpec("paid"), "paid", 0);
        expect(await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 10 })).toEqual([]);
        expect(await load(sleeper.id)).toEqual(sleeper);
        expect(await load(waiter.id)).toEqual(waiter);
      });

      it("takes the oldest first across pending and due runs, at most limit", async () => {
        const first = await create();
        const sleeper = await createSleeping(t0);
        const second = await create();
        const waiter = await createWaiting(waitSpec("paid"), "paid", t0);
        const claim = () =>
          storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 3, wakeBefore: t0 });
        expect((await claim()).map((r) => r.id)).toEqual([first.id, sleeper.id, second.id]);
        expect((await claim()).map((r) => r.id)).toEqual([waiter.id]);
        expect(await claim()).toEqual([]);
      });

      it("applies the workflows and versions filters to due runs", async () => {
        const match = await createSleeping(t0, { workflow: "refund", version: "v2" });
        const otherWorkflow = await createSleeping(t0, { workflow: "order", version: "v2" });
        const otherVersion = await createSleeping(t0, { workflow: "refund", version: "v1" });
        const claimed = await storage.claimRunnable({
          owner: "w",
          leaseMs: hour,
          limit: 10,
          wakeBefore: t0,
          workflows: ["refund"],
          versions: ["v2"],
        });
        expect(claimed.map((r) => r.id)).toEqual([match.id]);
        for (const run of [otherWorkflow, otherVersion]) expect(await load(run.id)).toEqual(run);
      });

      it("skips due runs under a live lease and takes them once it expired", async () => {
        const live = await createCommitted({ status: "sleeping", wakeAt: t0, leaseMs: hour });
        const expired = await createCommitted({ status: "sleeping", wakeAt: t0, leaseMs: 1 });
        await sleep(5);
        const claimed = await storage.claimRunnable({
          owner: "worker-b",
          leaseMs: hour,
          limit: 10,
          wakeBefore: t0,
        });
        expect(claimed.map((r) => [r.id, r.leaseOwner])).toEqual([[expired.id, "worker-b"]]);
        expect(await load(live.id)).toEqual(live);
      });

      it("never hands one due run to two racing claims", async () => {
        const ids = new Set<string>();
        for (let i = 0; i < 20; i++) {
          ids.add((await (i % 2 ? createSleeping(t0) : createWaiting(waitSpec("x"), "x", t0))).id);
        }
        const batches = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            storage.claimRunnable({
              owner: `worker-${i}`,
              leaseMs: hour,
              limit: 3,
              wakeBefore: t0,
            }),
          ),
        );
        const claimed = batches.flat().map((r) => r.id);
        expect(claimed).toHaveLength(20);
        expect(new Set(claimed)).toEqual(ids);
      });
    });

    describe.runIf(has.deliver)("listRuns by waitEvent (optional, with deliver)", () => {
      it("lists the runs waiting for one event, newest first, with the other filters", async () => {
        const paid1 = await createWaiting(waitSpec("paid-1"), "paid", null, { workflow: "order" });
        await createWaiting(waitSpec("shipped"), "shipped");
        await createWaiting(waitSpec("user"), null);
        await create();
        const paid2 = await createWaiting(waitSpec("paid-2"), "paid", t0, { workflow: "refund" });
        const list = async (query: Parameters<StorageAdapter["listRuns"]>[0]) =>
          (await storage.listRuns(query)).map((r) => r.id);
        expect(await list({ waitEvent: "paid" })).toEqual([paid2.id, paid1.id]);
        expect(await list({ waitEvent: "paid", workflow: "order" })).toEqual([paid1.id]);
        expect(await list({ waitEvent: "paid", status: ["waiting"], limit: 1 })).toEqual([
          paid2.id,
        ]);
        expect(await list({ waitEvent: "paid", status: "pending" })).toEqual([]);
        expect(await list({ waitEvent: "unknown" })).toEqual([]);
        await storage.deliver!({ runId: paid1.id, wait: paid1.wait!, payload: "{}" });
        expect(await list({ waitEvent: "paid" })).toEqual([paid2.id]);
      });
    });

    describe.runIf(has.events)("storeEvent and pendingEvents (optional, with deliver)", () => {
      const event = (runId: string, id: string, key: string | null = null, name = "paid") => ({
        id,
        runId,
        name,
        key,
        payload: `{"id":"${id}"}`,
      });

      it("keeps events per run, oldest first, until a delivery consumes one", async () => {
        const waiter = await createWaiting(waitSpec("paid"), "paid");
        const other = await createWaiting(waitSpec("paid"), "paid");
        const before = Date.now();
        expect(await storage.storeEvent!(event(waiter.id, "e1"))).toBe(true);
        expect(await storage.storeEvent!(event(other.id, "e2"))).toBe(true);
        expect(await storage.storeEvent!(event(waiter.id, "e3", null, "shipped"))).toBe(true);
        const kept = await storage.pendingEvents!(waiter.id);
        expect(kept).toEqual([
          { ...event(waiter.id, "e1"), createdAt: expect.any(Number) },
          { ...event(waiter.id, "e3", null, "shipped"), createdAt: expect.any(Number) },
        ]);
        expect(kept[0].createdAt).toBeGreaterThanOrEqual(before);
        expect((await storage.pendingEvents!()).map((e) => e.id).sort()).toEqual([
          "e1",
          "e2",
          "e3",
        ]);

        expect(
          await storage.deliver!({
            runId: waiter.id,
            wait: waiter.wait!,
            payload: kept[0].payload,
            eventId: "e1",
          }),
        ).toBe(true);
        expect(await load(waiter.id)).toMatchObject({ status: "pending", inbox: '{"id":"e1"}' });
        expect((await storage.pendingEvents!(waiter.id)).map((e) => e.id)).toEqual(["e3"]);
        expect((await storage.pendingEvents!(other.id)).map((e) => e.id)).toEqual(["e2"]);
      });

      it("stores one event per run and key, delivered or not", async () => {
        const waiter = await createWaiting(waitSpec("paid"), "paid");
        const other = await createWaiting(waitSpec("paid"), "paid");
        expect(await storage.storeEvent!(event(waiter.id, "k1", "key-1"))).toBe(true);
        expect(await storage.storeEvent!(event(waiter.id, "k2", "key-1"))).toBe(false);
        expect(await storage.storeEvent!(event(other.id, "k3", "key-1"))).toBe(true);
        await storage.deliver!({
          runId: waiter.id,
          wait: waiter.wait!,
          payload: "1",
          eventId: "k1",
        });
        expect(await storage.storeEvent!(event(waiter.id, "k4", "key-1"))).toBe(false);
        expect(await storage.pendingEvents!(waiter.id)).toEqual([]);
      });

      it("delivers a kept event at most once, and not to a wait the run no longer has", async () => {
        const waiter = await createWaiting(waitSpec("paid"), "paid");
        await storage.storeEvent!(event(waiter.id, "once"));
        expect(
          await storage.deliver!({
            runId: waiter.id,
            wait: waitSpec("other"),
            payload: "1",
            eventId: "once",
          }),
        ).toBe(false);
        expect(await load(waiter.id)).toEqual(waiter);
        expect((await storage.pendingEvents!(waiter.id)).map((e) => e.id)).toEqual(["once"]);
        const outcomes = await Promise.all(
          Array.from({ length: 5 }, () =>
            storage.deliver!({
              runId: waiter.id,
              wait: waiter.wait!,
              payload: "1",
              eventId: "once",
            }),
          ),
        );
        expect(outcomes.filter(Boolean)).toHaveLength(1);
        expect(await storage.pendingEvents!(waiter.id)).toEqual([]);

        // An event already delivered (or unknown) delivers nothing to a later wait.
        const again = await createWaiting(waitSpec("paid"), "paid");
        expect(
          await storage.deliver!({
            runId: again.id,
            wait: again.wait!,
            payload: "1",
            eventId: "once",
          }),
        ).toBe(false);
        expect(await load(again.id)).toEqual(again);
      });
    });

    describe.runIf(has.deliver)("deliver (optional)", () => {
      it("stores the payload in the inbox, clears the wait and makes the run pending at once", async () => {
        const waiter = await createWaiting(waitSpec("paid"), "paid", t0 + hour);
        const before = Date.now();
        expect(
          await storage.deliver!({ runId: waiter.id, wait: waitSpec("paid"), payload: '{"n":1}' }),
        ).toBe(true);
        const after = Date.now();
        const delivered = await load(waiter.id);
        expect(delivered).toEqual({
          ...waiter,
          status: "pending",
          seq: waiter.seq + 1,
          updatedAt: expect.any(Number),
          ...noWait,
          inbox: '{"n":1}',
        });
        expect(delivered.updatedAt).toBeGreaterThanOrEqual(before);
        expect(delivered.updatedAt).toBeLessThanOrEqual(after);
        const claimed = await storage.claimRunnable({ owner: "worker-a", leaseMs: hour, limit: 5 });
        expect(claimed.map((r) => [r.id, r.seq, r.inbox])).toEqual([
          [waiter.id, waiter.seq + 1, '{"n":1}'],
        ]);
      });

      it("applies once: of racing deliveries to one wait exactly one applies", async () => {
        const waiter = await createWaiting(waitSpec("paid"), "paid");
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            storage.deliver!({ runId: waiter.id, wait: waiter.wait!, payload: `"${i}"` }),
          ),
        );
        const winners = outcomes.flatMap((applied, i) => (applied ? [i] : []));
        expect(winners).toHaveLength(1);
        expect(await load(waiter.id)).toMatchObject({
          status: "pending",
          seq: waiter.seq + 1,
          inbox: `"${winners[0]}"`,
        });
      });

      it("refuses a wait the run no longer has, writing nothing", async () => {
        const waiter = await createWaiting(waitSpec("first"), "first");
        expect(
          await storage.deliver!({ runId: waiter.id, wait: waitSpec("other"), payload: "1" }),
        ).toBe(false);
        expect(await load(waiter.id)).toEqual(waiter);

        // The run consumes the first delivery and waits again: the first wait is stale now.
        await storage.deliver!({ runId: waiter.id, wait: waitSpec("first"), payload: "1" });
        const [claimed] = await storage.claimRunnable({
          owner: "worker-a",
          leaseMs: hour,
          limit: 1,
        });
        await storage.commit({
          runId: waiter.id,
          expectedSeq: claimed.seq,
          owner: "worker-a",
          status: "waiting",
          wait: { spec: waitSpec("second"), event: "second" },
          inbox: null,
        });
        const waitingAgain = await load(waiter.id);
        expect(
          await storage.deliver!({ runId: waiter.id, wait: waitSpec("first"), payload: "2" }),
        ).toBe(false);
        expect(await load(waiter.id)).toEqual(waitingAgain);
      });

      it.each([
        "pending",
        "running",
        "sleeping",
        "completed",
        "failed",
        "cancelled",
        "parked",
      ] as const)(
        "refuses a %s run even when its wait matches, writing nothing",
        async (status) => {
          const run = await createCommitted({
            status,
            wait: { spec: waitSpec("paid"), event: "paid" },
          });
          expect(
            await storage.deliver!({ runId: run.id, wait: waitSpec("paid"), payload: "1" }),
          ).toBe(false);
          expect(await load(run.id)).toEqual(run);
        },
      );

      it("refuses an unknown run", async () => {
        expect(await storage.deliver!({ runId: "ghost", wait: waitSpec("x"), payload: "1" })).toBe(
          false,
        );
        expect(await storage.loadRun("ghost")).toBeNull();
      });

      it("bumps seq, so a commit based on the waiting state fails", async () => {
        const waiter = await createLeased("worker-a");
        await storage.commit({
          runId: waiter.id,
          expectedSeq: 0,
          owner: "worker-a",
          status: "waiting",
          wait: { spec: waitSpec("paid"), event: "paid" },
          leaseMs: hour,
        });
        expect(
          await storage.deliver!({ runId: waiter.id, wait: waitSpec("paid"), payload: "1" }),
        ).toBe(true);
        const outcome = await storage.commit({
          runId: waiter.id,
          expectedSeq: 1,
          owner: "worker-a",
          status: "running",
          wait: null,
          leaseMs: hour,
        });
        expect(outcome.ok).toBe(false);
        expect(await load(waiter.id)).toMatchObject({ status: "pending", seq: 2, inbox: "1" });
      });
    });

    describe.runIf(has.cancel)("cancel (optional)", () => {
      const why = '{"name":"CancelledError","message":"stop"}';

      it("cancels a running run and releases its lease, so its owner can commit no more", async () => {
        const run = await createLeased("worker-a");
        await storage.commit({
          runId: run.id,
          expectedSeq: 0,
          owner: "worker-a",
          status: "running",
          frame: "f",
          leaseMs: hour,
        });
        expect(await storage.cancel!(run.id, why)).toBe(true);
        expect(await load(run.id)).toMatchObject({
          status: "cancelled",
          seq: 2,
          frame: "f",
          error: why,
          leaseOwner: null,
          leaseExpiresAt: null,
        });
        const stale = await storage.commit({
          runId: run.id,
          expectedSeq: 1,
          owner: "worker-a",
          status: "running",
          leaseMs: hour,
        });
        expect(stale.ok).toBe(false);
        expect(["conflict", "lease-lost"]).toContain(stale.ok ? undefined : stale.reason);
        expect(
          await storage.commit({
            runId: run.id,
            expectedSeq: 2,
            owner: "worker-a",
            status: "completed",
            result: '"late"',
          }),
        ).toEqual({ ok: false, reason: "lease-lost" });
        expect(await storage.renewLeases("worker-a", [run.id], hour)).toEqual([]);
        expect(
          await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 5, wakeBefore: t0 }),
        ).toEqual([]);
        expect(await load(run.id)).toMatchObject({ status: "cancelled", seq: 2, result: null });
      });

      it.each(["pending", "sleeping", "parked"] as const)("cancels a %s run", async (status) => {
        const run = status === "pending" ? await create() : await createCommitted({ status });
        expect(await storage.cancel!(run.id, why)).toBe(true);
        expect(await load(run.id)).toMatchObject({
          status: "cancelled",
          seq: run.seq + 1,
          error: why,
          leaseOwner: null,
        });
        expect(await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 5 })).toEqual([]);
      });

      it.runIf(has.deliver)(
        "cancels a waiting run and clears its wait, so it is neither delivered to nor woken",
        async () => {
          const waiter = await createWaiting(waitSpec("paid"), "paid", t0);
          expect(await storage.cancel!(waiter.id, why)).toBe(true);
          const cancelled = await load(waiter.id);
          expect(cancelled).toMatchObject({
            status: "cancelled",
            seq: waiter.seq + 1,
            error: why,
            wakeAt: null,
            wait: null,
            waitEvent: null,
          });
          expect(
            await storage.deliver!({ runId: waiter.id, wait: waitSpec("paid"), payload: "1" }),
          ).toBe(false);
          expect(await storage.listRuns({ waitEvent: "paid" })).toEqual([]);
          expect(
            await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 5, wakeBefore: t0 }),
          ).toEqual([]);
          expect(await load(waiter.id)).toEqual(cancelled);
        },
      );

      it.each(["completed", "failed", "cancelled"] as const)(
        "refuses a %s run, writing nothing",
        async (status) => {
          const run = await createCommitted({ status, error: '"original"' });
          expect(await storage.cancel!(run.id, why)).toBe(false);
          expect(await load(run.id)).toEqual(run);
        },
      );

      it("applies once when cancels race, and refuses an unknown run", async () => {
        const run = await createLeased("worker-a");
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, (_, i) => storage.cancel!(run.id, `"${i}"`)),
        );
        const winners = outcomes.flatMap((applied, i) => (applied ? [i] : []));
        expect(winners).toHaveLength(1);
        expect(await load(run.id)).toMatchObject({ seq: 1, error: `"${winners[0]}"` });
        expect(await storage.cancel!("ghost", why)).toBe(false);
        expect(await storage.loadRun("ghost")).toBeNull();
      });
    });

    describe.runIf(has.sessions)("session state (optional)", () => {
      const loadSession = (sessionId: string) => storage.loadSession!(sessionId);
      /** A commit of `run` (leased to "worker-a", at its stored seq) that writes a session. */
      const sessionCommit = (
        run: StoredRun,
        session: NonNullable<Commit["session"]>,
        overrides: Partial<Commit> = {},
      ): Commit => ({
        runId: run.id,
        expectedSeq: run.seq,
        owner: "worker-a",
        status: "running",
        frame: `frame-of-${run.id}`,
        leaseMs: hour,
        session,
        ...overrides,
      });

      it("loads a session never written as null at version 0", async () => {
        expect(await loadSession("no-such-session")).toEqual({ state: null, version: 0 });
      });

      it("writes the session with the checkpoint, bumping its version by one each time", async () => {
        const run = await createLeased("worker-a", hour, { sessionId: "s" });
        expect(
          await storage.commit(
            sessionCommit(run, { id: "s", expectedVersion: 0, state: '{"n":1}' }),
          ),
        ).toEqual({ ok: true, seq: 1 });
        expect(await loadSession("s")).toEqual({ state: '{"n":1}', version: 1 });
        expect(await load(run.id)).toMatchObject({ seq: 1, frame: `frame-of-${run.id}` });

        const next = await storage.commit(
          sessionCommit(
            await load(run.id),
            { id: "s", expectedVersion: 1, state: '{"n":2}' },
            { status: "completed", result: '"done"' },
          ),
        );
        expect(next).toEqual({ ok: true, seq: 2 });
        expect(await loadSession("s")).toEqual({ state: '{"n":2}', version: 2 });
        expect(await load(run.id)).toMatchObject({ status: "completed", seq: 2, leaseOwner: null });
        expect(await loadSession("other")).toEqual({ state: null, version: 0 });
      });

      it("writes the session along with a sleep", async () => {
        const run = await createLeased("worker-a");
        expect(
          await storage.commit(
            sessionCommit(
              run,
              { id: "s", expectedVersion: 0, state: "[]" },
              { status: "sleeping", wakeAt: t0, leaseMs: undefined },
            ),
          ),
        ).toEqual({ ok: true, seq: 1 });
        expect(await loadSession("s")).toEqual({ state: "[]", version: 1 });
        expect(await load(run.id)).toMatchObject({ status: "sleeping", seq: 1 });
      });

      it("stores session state byte for byte", async () => {
        const state = `{"s":"quote \\" nul \u0000 ffff \uffff \uffff0 emoji 😀 ${"x".repeat(100_000)}"}`;
        const id = "session \u0000 \uffff é";
        const run = await createLeased();
        await storage.commit(sessionCommit(run, { id, expectedVersion: 0, state }));
        expect(await loadSession(id)).toEqual({ state, version: 1 });
        expect(await loadSession("session ")).toEqual({ state: null, version: 0 });
      });

      it("reports session-conflict for a stale expectedVersion and writes nothing at all", async () => {
        const writer = await createLeased();
        await storage.commit(sessionCommit(writer, { id: "s", expectedVersion: 0, state: "v1" }));
        const run = await createLeased();
        await storage.commit(sessionCommit(run, { id: "x", expectedVersion: 0, state: "" }));
        const stored = await load(run.id);
        for (const expectedVersion of [0, 2, 7]) {
          expect(
            await storage.commit(
              sessionCommit(
                stored,
                { id: "s", expectedVersion, state: "stale" },
                { frame: "stale", status: "completed", result: '"stale"' },
              ),
            ),
          ).toEqual({ ok: false, reason: "session-conflict" });
        }
        // A version for a session that was never written inserts nothing either.
        expect(
          await storage.commit(
            sessionCommit(stored, { id: "new", expectedVersion: 1, state: "stale" }),
          ),
        ).toEqual({ ok: false, reason: "session-conflict" });
        expect(await load(run.id)).toEqual(stored);
        expect(await loadSession("s")).toEqual({ state: "v1", version: 1 });
        expect(await loadSession("new")).toEqual({ state: null, version: 0 });
        // The run is untouched, so its owner carries on at the same seq.
        expect(
          await storage.commit(sessionCommit(stored, { id: "s", expectedVersion: 1, state: "v2" })),
        ).toEqual({ ok: true, seq: stored.seq + 1 });
        expect(await loadSession("s")).toEqual({ state: "v2", version: 2 });
      });

      it.each([0, 1])(
        "lets exactly one of many runs racing to write one session at version %i win",
        async (expectedVersion) => {
          if (expectedVersion === 1) {
            const first = await createLeased();
            await storage.commit(sessionCommit(first, { id: "s", expectedVersion: 0, state: "-" }));
          }
          const runs = await Promise.all(
            Array.from({ length: 10 }, () => createLeased("worker-a", hour, { sessionId: "s" })),
          );
          const outcomes = await Promise.all(
            runs.map((run, i) =>
              storage.commit(sessionCommit(run, { id: "s", expectedVersion, state: `state-${i}` })),
            ),
          );
          const winners = outcomes.flatMap((o, i) => (o.ok ? [i] : []));
          expect(winners).toHaveLength(1);
          expect(outcomes.filter((o) => !o.ok)).toEqual(
            Array.from({ length: 9 }, () => ({ ok: false, reason: "session-conflict" })),
          );
          expect(await loadSession("s")).toEqual({
            state: `state-${winners[0]}`,
            version: expectedVersion + 1,
          });
          for (const [i, run] of runs.entries()) {
            if (i === winners[0]) expect(await load(run.id)).toMatchObject({ seq: 1 });
            else expect(await load(run.id)).toEqual(run);
          }
        },
      );

      it("reports the run's own reasons first, and then writes no session", async () => {
        const writer = await createLeased();
        await storage.commit(sessionCommit(writer, { id: "s", expectedVersion: 0, state: "v1" }));
        const run = await createLeased("worker-a");
        for (const expectedVersion of [1, 0]) {
          const session = { id: "s", expectedVersion, state: "late" };
          const fresh = { id: "fresh", expectedVersion: 0, state: "late" };
          for (const s of [session, fresh]) {
            expect(await storage.commit(sessionCommit(run, s, { runId: "ghost" }))).toEqual({
              ok: false,
              reason: "not-found",
            });
            expect(await storage.commit(sessionCommit(run, s, { owner: "worker-b" }))).toEqual({
              ok: false,
              reason: "lease-lost",
            });
            expect(await storage.commit(sessionCommit(run, s, { expectedSeq: 5 }))).toEqual({
              ok: false,
              reason: "conflict",
            });
          }
        }
        expect(await loadSession("s")).toEqual({ state: "v1", version: 1 });
        expect(await loadSession("fresh")).toEqual({ state: null, version: 0 });
        expect(await load(run.id)).toEqual(run);
        expect(await storage.loadRun("ghost")).toBeNull();
      });

      it("lets one of many racing commits of one run win, writing only the winner's session", async () => {
        // A few rounds, as the first may find connections not yet warm and barely overlap.
        for (let round = 0; round < 5; round++) {
          const run = await createLeased();
          // Half of them write one shared session, the other half a session each.
          const sessionOf = (i: number) => (i % 2 === 0 ? `${run.id}-shared` : `${run.id}-${i}`);
          const outcomes = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              storage.commit(
                sessionCommit(
                  run,
                  { id: sessionOf(i), expectedVersion: 0, state: `state-${i}` },
                  { frame: `frame-${i}` },
                ),
              ),
            ),
          );
          const winners = outcomes.flatMap((o, i) => (o.ok ? [i] : []));
          expect(winners).toHaveLength(1);
          const [winner] = winners;
          expect(outcomes.filter((o) => !o.ok)).toEqual(
            Array.from({ length: 19 }, () => ({ ok: false, reason: "conflict" })),
          );
          expect(await load(run.id)).toMatchObject({ seq: 1, frame: `frame-${winner}` });
          for (let i = 0; i < 20; i++) {
            if (i !== winner && sessionOf(i) === sessionOf(winner)) continue;
            expect(await loadSession(sessionOf(i))).toEqual(
              i === winner ? { state: `state-${i}`, version: 1 } : { state: null, version: 0 },
            );
          }
        }
      });

      it("leaves sessions alone in a commit without a session write", async () => {
        const run = await createLeased("worker-a", hour, { sessionId: "s" });
        await storage.commit(sessionCommit(run, { id: "s", expectedVersion: 0, state: "kept" }));
        const plain = await storage.commit({
          runId: run.id,
          expectedSeq: 1,
          owner: "worker-a",
          status: "completed",
          result: '"done"',
        });
        expect(plain).toEqual({ ok: true, seq: 2 });
        expect(await loadSession("s")).toEqual({ state: "kept", version: 1 });
      });
    });

    describe.runIf(has.purge)("purge (optional)", () => {
      const finished = ["completed", "failed", "cancelled"] as const;
      /** A time after every commit so far, on the adapter's own clock. */
      const cutoffAfter = async (runs: readonly StoredRun[]) => {
        await sleep(2);
        return Math.max(...runs.map((r) => r.updatedAt)) + 1;
      };

      it("deletes finished runs last committed before the cutoff, and only those", async () => {
        const done = await Promise.all(finished.map((status) => createWithStatus(status)));
        const alive = [
          await create(),
          await createLeased("worker-a"),
          await createSleeping(t0),
          await createWithStatus("parked"),
        ];
        const before = await cutoffAfter([...done, ...alive]);
        const young = await createWithStatus("completed");
        const deleted = await storage.purge!({ before, statuses: finished, limit: 100 });
        expect(deleted).toBe(3);
        for (const run of done) expect(await storage.loadRun(run.id)).toBeNull();
        for (const run of [...alive, young]) expect(await storage.loadRun(run.id)).not.toBeNull();
        expect(await storage.purge!({ before, statuses: finished, limit: 100 })).toBe(0);
      });

      it("keeps runs committed at the cutoff or later, and filters by status", async () => {
        const completed = await createWithStatus("completed");
        const failed = await createWithStatus("failed");
        expect(
          await storage.purge!({ before: completed.updatedAt, statuses: finished, limit: 10 }),
        ).toBe(0);
        const before = await cutoffAfter([completed, failed]);
        expect(await storage.purge!({ before, statuses: ["failed"], limit: 10 })).toBe(1);
        expect(await storage.loadRun(failed.id)).toBeNull();
        expect(await storage.loadRun(completed.id)).not.toBeNull();
        expect(await storage.purge!({ before, statuses: [], limit: 10 })).toBe(0);
      });

      it("deletes at most limit runs, oldest first", async () => {
        const runs: StoredRun[] = [];
        for (let i = 0; i < 5; i++) runs.push(await createWithStatus("completed"));
        const before = await cutoffAfter(runs);
        expect(await storage.purge!({ before, statuses: finished, limit: 2 })).toBe(2);
        const left = await storage.listRuns();
        expect(left.map((r) => r.id).sort()).toEqual(
          runs
            .slice(2)
            .map((r) => r.id)
            .sort(),
        );
        expect(await storage.purge!({ before, statuses: finished, limit: 10 })).toBe(3);
        expect(await storage.listRuns()).toEqual([]);
      });

      it("frees the idempotency key of a deleted run", async () => {
        const run = await createWithStatus("completed", { idempotencyKey: "k" });
        await storage.purge!({ before: await cutoffAfter([run]), statuses: finished, limit: 10 });
        const again = await storage.createRun(spec({ idempotencyKey: "k" }));
        expect(again.created).toBe(true);
        expect(again.run.id).not.toBe(run.id);
      });

      it.runIf(has.sessions)(
        "deletes a session's state with its last run, not while another run has it",
        async () => {
          const first = await createLeased("worker-a", hour, { sessionId: "s" });
          expect(
            await storage.commit({
              runId: first.id,
              expectedSeq: 0,
              owner: "worker-a",
              status: "completed",
              result: "1",
              session: { id: "s", expectedVersion: 0, state: "state" },
            }),
          ).toMatchObject({ ok: true });
          const second = await createWithStatus("sleeping", { sessionId: "s" });
          const before = await cutoffAfter([await load(first.id), second]);
          expect(await storage.purge!({ before, statuses: finished, limit: 10 })).toBe(1);
          expect(await storage.loadSession!("s")).toEqual({ state: "state", version: 1 });
          expect(await storage.cancel?.(second.id, "{}")).not.toBe(false);
          if (!has.cancel) return;
          const later = await cutoffAfter([await load(second.id)]);
          expect(await storage.purge!({ before: later, statuses: finished, limit: 10 })).toBe(1);
          expect(await storage.loadSession!("s")).toEqual({ state: null, version: 0 });
        },
      );

      it.runIf(has.steps)("deletes the step history of a deleted run", async () => {
        const run = await createWithStatus("completed");
        const kept = await createWithStatus("running");
        await storage.recordSteps!([
          {
            runId: run.id,
            checkpoint: "step:a",
            name: "a",
            attempt: 1,
            startedAt: 1,
            endedAt: 2,
            error: null,
          },
          {
            runId: kept.id,
            checkpoint: "step:a",
            name: "a",
            attempt: 1,
            startedAt: 1,
            endedAt: 2,
            error: null,
          },
        ]);
        await storage.purge!({
          before: await cutoffAfter([run, kept]),
          statuses: finished,
          limit: 10,
        });
        expect(await storage.listSteps!(run.id)).toEqual([]);
        expect(await storage.listSteps!(kept.id)).toHaveLength(1);
      });
    });

    describe.runIf(has.retry)("retry (optional)", () => {
      it("makes a failed run pending again with its frame, unleased and claimable", async () => {
        const run = await createCommitted({ status: "failed", frame: "f", error: '"boom"' });
        expect(await storage.retry!(run.id)).toBe(true);
        expect(await load(run.id)).toMatchObject({
          status: "pending",
          seq: run.seq + 1,
          frame: "f",
          error: null,
          leaseOwner: null,
          leaseExpiresAt: null,
        });
        const claimed = await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 5 });
        expect(claimed.map((r) => r.id)).toEqual([run.id]);
      });

      it("makes a parked run pending again the same way", async () => {
        const run = await createCommitted({ status: "parked", frame: "f", error: '"no class"' });
        expect(await storage.retry!(run.id)).toBe(true);
        expect(await load(run.id)).toMatchObject({ status: "pending", frame: "f", error: null });
      });

      it.each(["pending", "running", "sleeping", "completed", "cancelled"] as const)(
        "refuses a %s run and changes nothing",
        async (status) => {
          const run = status === "pending" ? await create() : await createWithStatus(status);
          expect(await storage.retry!(run.id)).toBe(false);
          expect(await load(run.id)).toEqual(run);
        },
      );

      it("applies once when retries race, and refuses an unknown run", async () => {
        const run = await createWithStatus("failed");
        const outcomes = await Promise.all(Array.from({ length: 5 }, () => storage.retry!(run.id)));
        expect(outcomes.filter(Boolean)).toHaveLength(1);
        expect(await storage.retry!("ghost")).toBe(false);
      });
    });

    describe.runIf(has.claimParked)("claimParked (optional)", () => {
      it("leases a parked run to the claimer, running, reason cleared, all else kept", async () => {
        const run = await createCommitted({
          status: "parked",
          frame: "f",
          error: '"no checkpoint"',
          wakeAt: t0,
        });
        expect(run).toMatchObject({ status: "parked", leaseOwner: null, leaseExpiresAt: null });
        const before = Date.now();
        const claimed = await storage.claimParked!({
          runId: run.id,
          expectedSeq: run.seq,
          owner: "w",
          leaseMs: hour,
        });
        const expected = {
          ...run,
          status: "running",
          error: null,
          leaseOwner: "w",
          leaseExpiresAt: claimed?.leaseExpiresAt,
        };
        expect(claimed).toEqual(expected);
        expect(claimed!.leaseExpiresAt!).toBeGreaterThanOrEqual(before + hour - 1000);
        expect(await load(run.id)).toEqual(expected);
        // The owner commits as after any claim.
        const outcome = await storage.commit({
          runId: run.id,
          expectedSeq: run.seq,
          owner: "w",
          status: "completed",
          result: "1",
        });
        expect(outcome.ok).toBe(true);
      });

      it("is never what claimRunnable returns, and takes a parked run that still holds a lease", async () => {
        const held = await createCommitted({ status: "parked", frame: "f", leaseMs: 1000 * hour });
        const clean = await createCommitted({ status: "parked", frame: "f" });
        expect(
          await storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 10, wakeBefore: t0 }),
        ).toEqual([]);
        for (const run of [held, clean]) {
          const claimed = await storage.claimParked!({
            runId: run.id,
            expectedSeq: run.seq,
            owner: "w",
            leaseMs: hour,
          });
          expect(claimed).toMatchObject({ id: run.id, status: "running", leaseOwner: "w" });
        }
      });

      it("refuses a moved seq, another status or an unknown run, changing nothing", async () => {
        const parked = await createCommitted({ status: "parked", frame: "f" });
        const failed = await createWithStatus("failed");
        const cases = [
          { runId: parked.id, expectedSeq: parked.seq + 1 },
          { runId: failed.id, expectedSeq: failed.seq },
          { runId: "ghost", expectedSeq: 0 },
        ];
        for (const c of cases) {
          expect(await storage.claimParked!({ ...c, owner: "w", leaseMs: hour })).toBeNull();
        }
        expect(await load(parked.id)).toEqual(parked);
        expect(await load(failed.id)).toEqual(failed);
      });

      it("applies once when claims race", async () => {
        const run = await createCommitted({ status: "parked", frame: "f" });
        const outcomes = await Promise.all(
          Array.from({ length: 5 }, (_, i) =>
            storage.claimParked!({
              runId: run.id,
              expectedSeq: run.seq,
              owner: `w${i}`,
              leaseMs: hour,
            }),
          ),
        );
        const winners = outcomes.filter((o) => o !== null);
        expect(winners).toHaveLength(1);
        expect((await load(run.id))?.leaseOwner).toBe(winners[0]!.leaseOwner);
      });
    });

    describe.runIf(has.steps)("step history (optional)", () => {
      it("lists a run's step attempts in the order recorded", async () => {
        const run = await create();
        const other = await create();
        const step = (attempt: number, error: string | null, runId = run.id) => ({
          runId,
          checkpoint: "step:charge",
          name: "charge",
          attempt,
          startedAt: t0 + attempt * 10,
          endedAt: t0 + attempt * 10 + 5,
          error,
        });
        await storage.recordSteps!([step(1, '"timeout"'), step(1, null, other.id)]);
        await storage.recordSteps!([step(2, null)]);
        await storage.recordSteps!([]);
        expect(await storage.listSteps!(run.id)).toEqual([step(1, '"timeout"'), step(2, null)]);
        expect(await storage.listSteps!(other.id)).toEqual([step(1, null, other.id)]);
        expect(await storage.listSteps!("ghost")).toEqual([]);
      });
    });
  });
}

/** The wait fields of a run that is not sleeping or waiting and has no inbox. */
const noWait = { wakeAt: null, wait: null, waitEvent: null, inbox: null } as const;

/** `run` with the wait fields an adapter written before waits omits read as `null`. */
function withWaitDefaults(run: StoredRun): StoredRun {
  return {
    ...run,
    wakeAt: run.wakeAt ?? null,
    wait: run.wait ?? null,
    waitEvent: run.waitEvent ?? null,
    inbox: run.inbox ?? null,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
