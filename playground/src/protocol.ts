/**
 * Messages between the page and the sandbox worker that runs the user's code. Values cross
 * as text: `serialized` is the runtime's own serialization (what storage holds), `shown` is a
 * readable rendering for the page.
 */

/** What the machine asks for at a checkpoint, as the page shows it. */
export type OperationView =
  | { readonly kind: "step"; readonly name: string; readonly args: string }
  | {
      readonly kind: "parallel" | "gather" | "batch" | "map";
      readonly branches: readonly { readonly name: string; readonly args: string }[];
    }
  | { readonly kind: "sleep"; readonly until: number }
  | {
      readonly kind: "waitForUser";
      readonly question: string;
      readonly inputType: "approval" | "choice" | "text";
      readonly options: readonly { readonly id: string; readonly label?: string }[];
      readonly timeoutAt: number | null;
    }
  | {
      readonly kind: "waitForEvent";
      readonly name: string;
      readonly match: string;
      readonly timeoutAt: number | null;
    }
  | { readonly kind: "other"; readonly description: string };

export type ToSandbox =
  /** Load the compiled module and enter the machine: from the arguments, or a stored frame. */
  | {
      readonly type: "boot";
      readonly code: string;
      readonly workflow: string;
      readonly runId: string;
      readonly args: string;
      readonly frame: string | null;
      readonly now: number;
    }
  /**
   * Commit the pending checkpoint and go on to the next one. `override` is JSON typed by
   * hand (or a user's answer): it replaces the operation's result.
   */
  | { readonly type: "commit"; readonly override?: string; readonly now: number }
  /** The pending wait ran out of time: `TimeoutError` is thrown at its `await`. */
  | { readonly type: "timeout"; readonly now: number };

export type FromSandbox =
  /** The machine entered; `resumedAt` is the stored checkpoint it re-entered after, if any. */
  | {
      readonly type: "booted";
      readonly version: string;
      readonly resumedAt: {
        readonly index: number;
        readonly id: string;
        readonly vars: string;
      } | null;
    }
  /** The machine yielded a checkpoint and waits for its commit. */
  | {
      readonly type: "pending";
      readonly index: number;
      readonly id: string;
      readonly operation: OperationView;
      readonly live: string;
    }
  /** The pending operation's steps ran (in the sandbox). */
  | {
      readonly type: "performed";
      readonly ok: boolean;
      /** JSON of the result (editable), or the error's message. */
      readonly shown: string;
    }
  /** A checkpoint's frame, serialized as storage keeps it; the page commits it. */
  | { readonly type: "frame"; readonly index: number; readonly id: string; readonly text: string }
  /** The operation failed and no override was given: the error is thrown at its `await`. */
  | { readonly type: "thrown"; readonly index: number; readonly message: string }
  /** The run ended. `text` is the serialized result or error, `shown` a readable form. */
  | {
      readonly type: "done";
      readonly status: "completed" | "failed";
      readonly text: string;
      readonly shown: string;
    }
  | { readonly type: "log"; readonly text: string }
  /** The sandbox could not load or drive the code (not a failure of the run). */
  | { readonly type: "error"; readonly message: string };
