/**
 * A local OTLP/gRPC receiver for the exporter tests: the collector's TraceService and
 * MetricsService Export methods over @grpc/grpc-js, bytes passed through untouched and decoded
 * here just far enough to name what arrived (span and metric names), so a test can tell real
 * OTLP protobuf from any bytes on the wire.
 */
import { Server, ServerCredentials, status, type ServiceDefinition, type handleUnaryCall } from '@grpc/grpc-js';

export interface GrpcRequest { service: 'traces' | 'metrics'; bytes: number; names: string[] }

const raw = {
  requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
};

function exportService(path: string): ServiceDefinition {
  return { Export: { path, requestStream: false, responseStream: false, ...raw } };
}

/** Fields of one protobuf message: field number → the length-delimited payloads (other wire types skipped). */
function fields(buf: Buffer): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  let i = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[i++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = varint();
      out.set(field, [...(out.get(field) ?? []), buf.subarray(i, i + len)]);
      i += len;
    } else throw new Error(`wire type ${wire} at ${i}: not protobuf`);
  }
  return out;
}

const all = (msgs: Buffer[], field: number) => msgs.flatMap((m) => fields(m).get(field) ?? []);

/**
 * Names in an Export request. Traces: ExportTraceServiceRequest.resource_spans(1) →
 * ResourceSpans.scope_spans(2) → ScopeSpans.spans(2) → Span.name(5). Metrics:
 * ExportMetricsServiceRequest.resource_metrics(1) → .scope_metrics(2) → .metrics(2) → Metric.name(1).
 */
export function exportedNames(service: 'traces' | 'metrics', body: Buffer): string[] {
  const items = all(all(all([body], 1), 2), 2);
  return all(items, service === 'traces' ? 5 : 1).map((b) => b.toString('utf8'));
}

export async function grpcReceiver(): Promise<{ url: string; got: GrpcRequest[]; close: () => Promise<void> }> {
  const got: GrpcRequest[] = [];
  const server = new Server();
  const handler = (service: 'traces' | 'metrics'): handleUnaryCall<Buffer, Buffer> => (call, cb) => {
    try {
      got.push({ service, bytes: call.request.length, names: exportedNames(service, call.request) });
      // An empty message is a valid Export*ServiceResponse (no partial success).
      cb(null, Buffer.alloc(0));
    } catch (err) {
      cb({ code: status.INVALID_ARGUMENT, details: (err as Error).message });
    }
  };
  server.addService(exportService('/opentelemetry.proto.collector.trace.v1.TraceService/Export'), { Export: handler('traces') });
  server.addService(exportService('/opentelemetry.proto.collector.metrics.v1.MetricsService/Export'), { Export: handler('metrics') });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    got,
    close: () => new Promise<void>((resolve) => { server.tryShutdown(() => resolve()); }),
  };
}
