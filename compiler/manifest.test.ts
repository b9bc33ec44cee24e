import { describe, expect, it } from "vitest";
import { generateCorpus } from "../bench/compile-corpus.js";
import { transform } from "./index.js";
import { hashText } from "./manifest.js";

describe("hashText", () => {
  it("is 64-bit FNV-1a over UTF-16 code units, as stored versions and ids were hashed", () => {
    // Versions and checkpoint ids of stored runs were made with these values: they must not move.
    expect(hashText("")).toBe("cbf29ce484222325");
    expect(hashText("a")).toBe("af63dc4c8601ec8c");
    expect(hashText("foobar")).toBe("85944171f73967e8");
    expect(hashText("step:charge")).toBe("4df845d5fcaae38f");
    expect(hashText("é→😀")).toBe("82832485073708d7");
    expect(hashText("x".repeat(1000))).toBe("e1add1d93134d2c5");
  });
});

describe("manifests of the compile benchmark's corpus", () => {
  it("keep their versions, checkpoint ids and frame keys (a change would park in-flight runs)", () => {
    const { workflowFiles } = generateCorpus({
      seed: 3,
      workflowFiles: 20,
      plain: 0,
      ratchetFiltered: 0,
      ratchetParsed: 0,
    });
    const lines = workflowFiles.flatMap((file) =>
      transform(file.code, { filename: file.filename, sourceMap: false }).workflows.map(
        (w) =>
          `${w.id} ${w.version} ${w.checkpoints.map((c) => `${c.id}[${c.live.join(",")}]`).join(" ")}`,
      ),
    );
    expect(lines).toMatchSnapshot();
  });
});
