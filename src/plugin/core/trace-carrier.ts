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

/** `traceparent`/`tracestate` for records derived from this frame. */
export function traceHeaders(frame: Frame): Record<string, string> {
  const own = carriers.get(frame);
  if (own) return { ...own };
  const h: Record<string, string> = {};
  const tp = frame.source?.headers.traceparent;
  if (tp) h.traceparent = tp.toString();
  const ts = frame.source?.headers.tracestate;
  if (ts) h.tracestate = ts.toString();
  return h;
}
