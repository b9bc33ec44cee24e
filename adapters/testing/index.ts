/**
 * The conformance suite for storage adapters, to run under vitest: an adapter that passes
 * `describeAdapterContract` works with the engine.
 * @module
 */
export { type AdapterFactory, describeAdapterContract } from "./adapter-conformance.js";
