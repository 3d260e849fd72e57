/** The messages between the bench (child.ts, the parent) and the gate under test (gate-child.ts) over the IPC channel. */
import type { ThreadSample } from './split.js';

export type ChildRequest =
  | { type: 'start'; settings: Record<string, unknown>; transportOnly?: boolean }
  | { type: 'sample' }
  | { type: 'profile-start' }
  | { type: 'profile-stop'; file: string }
  | { type: 'stop' };

export interface ChildSample {
  type: 'sample';
  cpu: NodeJS.CpuUsage;
  /** CPU ms of each live thread with its role, from /proc; undefined off Linux. */
  threads?: ThreadSample[];
  /** Micro-batcher totals of the regressor: batches run and items in them. */
  batches: number;
  items: number;
  records: number;
  pausedMs: number;
}

export type ChildReply = { type: 'ready'; provider: string } | ChildSample | { type: 'ok' } | { type: 'error'; message: string } | { type: 'stopped'; clean: boolean };
