import { channel } from 'node:diagnostics_channel';

/**
 * The product's events, on node:diagnostics_channel (as platformatic/kafka's src/diagnostic.ts):
 * parts publish what happened, and whoever cares subscribes (telemetry, the apps' loggers, tests,
 * an embedding user's own metrics). A channel without subscribers costs one property read, and no
 * part keeps a mutable observer field that the next listener would have to chain by hand.
 * Channels are process-wide: each event names the instance it comes from, so that a subscriber
 * can keep to its own app's gate or pool.
 */
export const CHANNEL_NAMESPACE = 'diffiqa';

export interface EventChannel<T> {
  /** `diffiqa:<name>`. */
  readonly name: string;
  readonly hasSubscribers: boolean;
  publish(event: T): void;
  /** Returns the unsubscribe function (idempotent). */
  subscribe(listener: (event: T) => void): () => void;
}

export function createChannel<T>(name: string): EventChannel<T> {
  const c = channel(`${CHANNEL_NAMESPACE}:${name}`);
  return {
    name: `${CHANNEL_NAMESPACE}:${name}`,
    get hasSubscribers() { return c.hasSubscribers; },
    publish: (event) => c.publish(event),
    subscribe(listener) {
      const handler = (message: unknown) => listener(message as T);
      c.subscribe(handler);
      return () => { c.unsubscribe(handler); };
    },
  };
}

/** Subscribes to the events of one source (a gate, a pool) only. */
export function subscribeTo<T extends { source: unknown }>(ch: EventChannel<T>, source: T['source'], listener: (event: T) => void): () => void {
  return ch.subscribe((e) => { if (e.source === source) listener(e); });
}
