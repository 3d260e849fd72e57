/**
 * Calling `diffiqa-gate serve` from your own code, as a stream processor does per message:
 *
 *   diffiqa-gate serve --config gate.yaml          # POST /score on serve.port (8080)
 *
 * The answer is the scorer's result, or `{ error: { code, message, canRetry } }` with 422 (bad
 * image: do not retry, dead-letter it), 413 (over face.maxBytes) or 503 (overloaded or closing:
 * retry after `Retry-After`). redpanda-connect.yaml beside this file does the same with Redpanda
 * Connect's `http` processor.
 */
export interface Verdict { id: string; score?: number; decision?: string; error?: { code: string; message: string; canRetry: boolean } }

export async function scoreOverHttp(url: string, image: Uint8Array, o: { frameId?: string; retries?: number } = {}): Promise<Verdict> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(new URL('/score', url), {
      method: 'POST', body: new Uint8Array(image),
      headers: { 'content-type': 'application/octet-stream', ...(o.frameId ? { 'x-frame-id': o.frameId } : {}) },
    });
    const body = (await res.json()) as Verdict;
    // Branch on the code's canRetry, never on the message.
    if (!body.error?.canRetry || attempt >= (o.retries ?? 3)) return body;
    await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
  }
}
