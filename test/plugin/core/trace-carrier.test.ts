import { describe, expect, it } from 'vitest';
import { setTraceCarrier, traceHeaders } from '../../../src/plugin/core/trace-carrier.js';
import { lineageHeaders } from '../../../src/plugin/pipeline/outputs.js';
import { frameAt } from '../telemetry/helpers.js';

describe('traceHeaders', () => {
  it('traceHeaders should pass the input trace headers on when tracing did not register the frame', () => {
    const f = frameAt(0, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'a=1', other: 'x' });
    expect(traceHeaders(f)).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'a=1' });
    expect(traceHeaders(frameAt(1))).toEqual({});
  });

  it("traceHeaders should prefer the frame's own registered context, and lineageHeaders should carry it", () => {
    const f = frameAt(2, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    setTraceCarrier(f, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01' });
    expect(traceHeaders(f)).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01' });
    expect(lineageHeaders(f, { 'diffiqa-reason': 'X' })).toEqual({
      'diffiqa-reason': 'X', traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01', 'diffiqa-source': 'in/2/2',
    });
  });

  it('traceHeaders should drop a malformed or oversized traceparent, and tracestate with it', () => {
    const good = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    for (const bad of ['00-zz-not-a-trace', `${good}x`, good.toUpperCase(), `ff${good.slice(2)}`, `00-${'0'.repeat(32)}-b7ad6b7169203331-01`,
      `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`, `${good}-future`, 'x'.repeat(200_000)]) {
      expect(traceHeaders(frameAt(3, { traceparent: bad, tracestate: 'a=1' })), bad.slice(0, 60)).toEqual({});
    }
    // A later version may carry more fields after a dash.
    expect(traceHeaders(frameAt(4, { traceparent: `01${good.slice(2)}-more` }))).toEqual({ traceparent: `01${good.slice(2)}-more` });
  });

  it('traceHeaders should keep a valid traceparent but drop a tracestate over 512 bytes or with control bytes', () => {
    const good = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(traceHeaders(frameAt(5, { traceparent: good, tracestate: `a=${'x'.repeat(150_000)}` }))).toEqual({ traceparent: good });
    expect(traceHeaders(frameAt(6, { traceparent: good, tracestate: 'a=1\u0000\u0007' }))).toEqual({ traceparent: good });
    expect(traceHeaders(frameAt(7, { traceparent: good, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' }))).toEqual({ traceparent: good, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' });
  });
});

