import { describe, expect, it } from 'vitest';
import { AlertPublisher, alertRecord, driftAlert, DRIFT_ALERT_SCHEMA } from '../../../src/plugin/drift/alerts.js';
import type { DriftEvent } from '../../../src/plugin/drift/monitor.js';
import type { OutRecord, ProducerPort } from '../../../src/plugin/kafka/port.js';

const event: DriftEvent = {
  type: 'drift', cameraId: 'cam-7', at: 1_700_000_000_000, reasons: ['median'],
  baseline: { median: 0.7, acceptRate: 0.8, count: 500 }, recent: { median: 0.4, acceptRate: 0.7, count: 200 },
  medianShift: -0.3, acceptRateShift: -0.1,
};

function fakeProducer(failFirst = 0) {
  const sent: OutRecord[] = [];
  let fails = failFirst;
  let connects = 0;
  let disconnects = 0;
  const p: ProducerPort = {
    async connect() { connects++; },
    async send(records) {
      await new Promise((r) => setTimeout(r, 5));
      if (fails-- > 0) throw new Error('broker away');
      sent.push(...records);
    },
    async disconnect() { disconnects++; },
  };
  return { p, sent, counts: () => ({ connects, disconnects }) };
}

describe('alertRecord', () => {
  it('alertRecord should key by camera and carry the JSON alert with its schema name and bounds', () => {
    const r = alertRecord(driftAlert(event, 'diffiqa-gate', { medianShift: 0.1, acceptRateShift: 0.2 }), 'alerts', { traceparent: 'tp' });
    expect(r.topic).toBe('alerts');
    expect(r.key).toBe('cam-7');
    expect(r.headers).toEqual({ 'content-type': 'application/json', traceparent: 'tp' });
    const body = JSON.parse(r.value.toString()) as Record<string, unknown>;
    expect(body).toMatchObject({ schema: DRIFT_ALERT_SCHEMA, type: 'drift', cameraId: 'cam-7', service: 'diffiqa-gate', reasons: ['median'], medianShift: -0.3, bounds: { medianShift: 0.1, acceptRateShift: 0.2 } });
  });
});

describe('AlertPublisher', () => {
  it('publish should send alerts in order, one at a time', async () => {
    const { p, sent } = fakeProducer();
    const pub = new AlertPublisher(p, 'alerts');
    const a = driftAlert(event, 's', { medianShift: 0.1, acceptRateShift: 0.2 });
    void pub.publish({ ...a, cameraId: 'one' });
    void pub.publish({ ...a, cameraId: 'two' });
    await pub.flush();
    expect(sent.map((r) => r.key)).toEqual(['one', 'two']);
    expect(pub.sent).toBe(2);
  });

  it('publish should report a failed send without throwing and still send the next alert', async () => {
    const { p, sent, counts } = fakeProducer(1);
    const pub = new AlertPublisher(p, 'alerts');
    const failures: unknown[] = [];
    pub.onFailure = (e) => failures.push(e);
    const a = driftAlert(event, 's', { medianShift: 0.1, acceptRateShift: 0.2 });
    await expect(pub.publish({ ...a, cameraId: 'lost' })).resolves.toBeUndefined();
    await pub.publish({ ...a, cameraId: 'kept' });
    expect(failures).toHaveLength(1);
    expect(sent.map((r) => r.key)).toEqual(['kept']);
    // A failure drops the connection state, so the next alert reconnects.
    expect(counts().connects).toBe(2);
    await pub.close();
    await pub.close();
    expect(counts().disconnects).toBe(1);
    await pub.publish(a);
    expect(sent).toHaveLength(1);
  });
});
