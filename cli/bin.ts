#!/usr/bin/env node
import { importNeedingTypeScript, TypeScriptMissingError } from "../plugins/typescript-peer.js";

// Loaded dynamically: the commands need the compiler, whose optional peer `typescript` may be
// missing, and a static import would fail before any message could say how to install it.
try {
  const { main } = await importNeedingTypeScript("The ratchet command", () => import("./main.js"));
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof TypeScriptMissingError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
