/** The code in the URL: deflated with CompressionStream, base64url, in the hash (`#code=…`). */

async function pipe(bytes: Uint8Array, stream: GenericTransformStream): Promise<Uint8Array> {
  const out = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export async function encodeCode(code: string): Promise<string> {
  const packed = await pipe(new TextEncoder().encode(code), new CompressionStream("deflate-raw"));
  return toBase64Url(packed);
}

export async function decodeCode(encoded: string): Promise<string> {
  const bytes = await pipe(fromBase64Url(encoded), new DecompressionStream("deflate-raw"));
  return new TextDecoder().decode(bytes);
}

/** The state a shared URL carries. */
export interface Shared {
  readonly code: string;
  readonly workflow?: string;
  readonly args?: string;
}

export async function readHash(hash: string): Promise<Shared | undefined> {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const code = params.get("code");
  if (!code) return undefined;
  try {
    return {
      code: await decodeCode(code),
      workflow: params.get("workflow") ?? undefined,
      args: params.get("args") ?? undefined,
    };
  } catch {
    return undefined;
  }
}

export async function writeHash(shared: Shared): Promise<string> {
  const params = new URLSearchParams();
  params.set("code", await encodeCode(shared.code));
  if (shared.workflow) params.set("workflow", shared.workflow);
  if (shared.args) params.set("args", shared.args);
  return `#${params.toString()}`;
}
