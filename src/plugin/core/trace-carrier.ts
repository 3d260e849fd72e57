import type { Frame } from './frame.js';

/**
 * The trace context a frame's derived records carry. Kept OpenTelemetry-free on purpose: the
 * output builders import it, and they must not depend on the SDK. When tracing runs, the stage
 * wrapper registers each frame's own span context here; otherwise the input's headers pass on
 * untouched, so a camera's trace still reaches downstream services.
 */
const carriers = new WeakMap<Frame, Record<string, string>>();

export function setTraceCarrier(frame: Frame, headers: Record<string, string>): void {
  carriers.set(frame, headers);
}

/**
 * `traceparent`/`tracestate` for records derived from this frame. The input's own headers pass on
 * only when they are W3C trace context: a malformed or oversized one (garbage, 100 KB) is dropped,
 * not copied onto every output. tracestate goes only with a valid traceparent.
 */
export function traceHeaders(frame: Frame): Record<string, string> {
  const own = carriers.get(frame);
  if (own) return { ...own };
  const h: Record<string, string> = {};
  const tp = validTraceparent(frame.source?.headers.traceparent);
  if (!tp) return h;
  h.traceparent = tp;
  const ts = validTracestate(frame.source?.headers.tracestate);
  if (ts) h.tracestate = ts;
  return h;
}

// W3C Trace Context: version-traceid-parentid-flags, lower-case hex; version ff and all-zero ids are invalid.
// A later version may append fields after a dash; 256 bytes is far beyond any version's length.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-[\x21-\x7e]*)?$/;
const MAX_TRACEPARENT_BYTES = 256;
// The spec asks propagators to pass on at least 512 characters; more is dropped rather than cut
// (a cut list member would be corrupt). Printable ASCII only, at most 32 list members.
const MAX_TRACESTATE_BYTES = 512;
const TRACESTATE = /^[\x20-\x7e]*$/;

export function validTraceparent(raw: Buffer | undefined): string | undefined {
  if (!raw || raw.length > MAX_TRACEPARENT_BYTES) return undefined;
  const s = raw.toString('latin1');
  const m = TRACEPARENT.exec(s);
  if (!m || m[1] === 'ff' || (m[1] === '00' && m[4] !== undefined) || /^0+$/.test(m[2]) || /^0+$/.test(m[3])) return undefined;
  return s;
}

export function validTracestate(raw: Buffer | undefined): string | undefined {
  if (!raw || raw.length === 0 || raw.length > MAX_TRACESTATE_BYTES) return undefined;
  const s = raw.toString('latin1');
  return TRACESTATE.test(s) && s.split(',').length <= 32 ? s : undefined;
}
