/**
 * kafkajs, loaded with the adapter's fix to its read_committed filter (see aborted.ts).
 * kafkajs's Batch takes the filter from `require` when it is first loaded, so the fixed one is
 * put into the module cache before kafkajs loads. Where kafkajs was loaded earlier without it
 * (a test importing kafkajs directly), that copy is dropped from the cache and a fixed copy loaded
 * for the adapter; the earlier importer keeps its own. The rest of the adapter imports kafkajs
 * values from here, never from 'kafkajs'.
 */
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import type * as KafkaJS from 'kafkajs';
import { filterAbortedMessages } from './aborted.js';

const require = createRequire(import.meta.url);

function loadKafkajs(): typeof KafkaJS {
  const root = path.dirname(require.resolve('kafkajs/package.json')) + path.sep;
  const filterPath = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
  if (require.cache[filterPath]?.exports !== filterAbortedMessages) {
    for (const key of Object.keys(require.cache)) if (key.startsWith(root)) delete require.cache[key];
    const fixed = new Module(filterPath);
    fixed.filename = filterPath;
    fixed.loaded = true;
    fixed.exports = filterAbortedMessages;
    require.cache[filterPath] = fixed;
  }
  return require('kafkajs') as typeof KafkaJS;
}

interface RequestQueueProto { pending: unknown[]; throttledUntil: number; scheduleCheckPendingRequests(): void }

/**
 * kafkajs 2.2.4 re-arms a 1 ms timer forever on every idle connection (tulios/kafkajs#1556, fix
 * unmerged): an idle gate burned 28–77 CPU-ms per second in the benchmark. With nothing pending
 * and no throttle there is nothing to check; enqueueing a request schedules the check again.
 */
function stopIdleTimerLoop(): void {
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueProto };
  const original = RequestQueue.prototype.scheduleCheckPendingRequests;
  if ((original as { patched?: boolean }).patched) return;
  const patched = function (this: RequestQueueProto): void {
    if (this.pending.length === 0 && !(this.throttledUntil > Date.now())) return;
    original.call(this);
  };
  (patched as { patched?: boolean }).patched = true;
  RequestQueue.prototype.scheduleCheckPendingRequests = patched;
}

export const kafkajs = loadKafkajs();
stopIdleTimerLoop();
export const { Kafka, Partitioners, logLevel, ConfigResourceTypes } = kafkajs;
