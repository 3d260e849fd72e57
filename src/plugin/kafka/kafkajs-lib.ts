/**
 * kafkajs, loaded with the adapter's fix to its read_committed filter (see kafkajs-aborted.ts).
 * kafkajs's Batch takes the filter from `require` when it is first loaded, so the fixed one is
 * put into the module cache before kafkajs loads. Where kafkajs was loaded earlier without it
 * (a test importing kafkajs directly), that copy is dropped from the cache and a fixed copy loaded
 * for the adapter; the earlier importer keeps its own. The rest of the adapter imports kafkajs
 * values from here, never from 'kafkajs'.
 */
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import type * as KafkaJS from 'kafkajs';
import { filterAbortedMessages } from './kafkajs-aborted.js';

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

export const kafkajs = loadKafkajs();
export const { Kafka, Partitioners, logLevel } = kafkajs;
