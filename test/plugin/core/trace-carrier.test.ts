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
});
