import { describe, expect, it } from 'vitest';
import { OutcomeWatcher, renderTable, TABLE_LEGEND } from '../../../src/tools/demo/watch.js';
import type { ConsumerPort } from '../../../src/plugin/kafka/port.js';
import type { AvroCodec } from '../../../src/schemas/codec.js';

const watcher = () => new OutcomeWatcher({} as ConsumerPort, {} as AvroCodec, { output: 'o', dlq: 'd' });

describe('demo table', () => {
  it('renderTable should count inline-borderline frames apart from the final decisions they ended with', () => {
    const w = watcher();
    w.tally({ cameraId: 'cam-1', decision: 'ACCEPT', escalation: 'NONE', captureTimestamp: 0 }, 10);
    w.tally({ cameraId: 'cam-1', decision: 'ACCEPT', escalation: 'ESCALATED', captureTimestamp: 0 }, 20);
    w.tally({ cameraId: 'cam-1', decision: 'REJECT', escalation: 'ESCALATED', captureTimestamp: 0 }, 30);
    w.tally({ cameraId: 'cam-1', decision: 'BORDERLINE', escalation: 'SKIPPED_OVERLOAD', captureTimestamp: 0 }, 40);
    w.row('cam-2').dlq++;
    const lines = renderTable(w, new Map([['cam-1', 4], ['cam-2', 1]])).split('\n');
    expect(lines[0].split(/\s+/)).toEqual(['camera', 'sent', 'accept', 'reject', 'undec.', 'dlq', '|', 'border', '→full']);
    expect(lines[2].split(/\s+/)).toEqual(['cam-1', '4', '2', '1', '1', '0', '|', '3', '2']);
    expect(lines[3].split(/\s+/)).toEqual(['cam-2', '1', '0', '0', '0', '1', '|', '0', '0']);
    expect(w.latenciesMs).toEqual([10, 20, 30, 40]);
    for (const col of ['accept', 'undec.', 'dlq', 'border', '→full']) expect(TABLE_LEGEND).toContain(col);
  });
});
