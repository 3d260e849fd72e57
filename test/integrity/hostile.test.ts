/**
 * Hostile input on the real broker: every kind in test/helpers/hostile.ts (broken and malicious
 * images, wrong formats, bad landmarks, broken Avro and wire format, odd keys and headers, and odd
 * but valid pictures) goes through the gate (built CLI, child process) among good crops. Each
 * input ends as exactly one outcome with the code its kind owes, and the gate is still running at
 * the end. The suite's summary table goes to the console and to test/integrity/SUMMARY.md.
 */
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { valueSubject } from '../../src/schemas/registry.js';
import { loadFaceSources } from '../helpers/crops.js';
import {
  KAFKA_CLIENTS, brokers, cropFactory, drained, readOutcomes, tally, testClient, uniqueNames, waitFor, type InputRecord,
} from '../helpers/gate-harness.js';
import { hostileCorpus, HOSTILE_HEADER, HOSTILE_KINDS, type HostileKind, type HostileMessage } from '../helpers/hostile.js';
import { alive, childGateSuite, describeOutcome, recordSummary, terminate, writeGateConfig } from './support.js';

const COPIES = 3;
const GOOD = 60;
const PARTITIONS = 3;
const MAX_MESSAGE_BYTES = 1_000_000;
const MAX_IMAGE_BYTES = 600_000;

const gates = childGateSuite('diffiqa-hostile-');

interface Entry { kind: HostileKind | 'good'; message: HostileMessage }

/**
 * Sends entry i to partition i % PARTITIONS, in order, through kafkajs directly: the port cannot
 * send a record without a value, which is one of the kinds. On a fresh topic, entry i then sits
 * at offset floor(i / PARTITIONS), which is how its kind is found again (one kind has no headers).
 */
async function send(topic: string, entries: Entry[]): Promise<void> {
  const producer = new Kafka({ brokers, clientId: 'hostile-producer', logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < entries.length; i += 30) {
      await producer.send({
        topic, acks: -1,
        messages: entries.slice(i, i + 30).map((e, j) => ({ key: e.message.key, value: e.message.value, headers: e.message.headers, partition: (i + j) % PARTITIONS })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

const nameOf = (e: Entry) => (e.kind === 'good' ? 'good' : e.kind.kind);

describe.each(KAFKA_CLIENTS)('gate hostile input (child process, real broker) (%s)', (kind) => {
  it('run should give every hostile input exactly one outcome with its expected code and keep running', async () => {
    const names = uniqueNames('hostile', kind);
    const client = testClient(names.run, names.client);
    const admin = client.admin();
    const { factory, codec } = await cropFactory(names, gates.fx, MAX_MESSAGE_BYTES);
    try {
      await admin.createTopics([{ topic: names.topics.input, partitions: PARTITIONS }]);
      const sources = await factory.stream(names.run, GOOD, 0);
      // The same cached LFW faces as the good crops; the first one is the corpus's face.
      const [face] = await loadFaceSources({ count: 50, cacheFile: path.join(os.tmpdir(), 'diffiqa-integrity-lfw-landmarks-50.json'), mirrorDir: gates.fx.mirrorDir, modelCacheDir: gates.fx.cacheDir });
      const corpus = await hostileCorpus({
        codec, subject: valueSubject(names.topics.input), face,
        maxMessageBytes: MAX_MESSAGE_BYTES, maxImageBytes: MAX_IMAGE_BYTES,
      }, COPIES);
      // Good crops spread between the hostile ones, so every chunk mixes both.
      const entries: Entry[] = [];
      const step = corpus.length / GOOD;
      for (let i = 0, g = 0; i < corpus.length; i++) {
        while (g < GOOD && g * step <= i) entries.push({ kind: 'good', message: { key: sources[g].key, value: sources[g].value, headers: sources[g++].headers } });
        entries.push(corpus[i]);
      }
      const configFile = await writeGateConfig(gates.dir, names, gates.fx, {
        'kafka.maxMessageBytes': MAX_MESSAGE_BYTES, 'face.maxBytes': MAX_IMAGE_BYTES, 'gate.inFlightPerPartition': 16, 'shutdown.deadlineMs': 10_000,
      });
      const gate = gates.children.start(configFile);
      await gate.waitForLog('gate running', 60_000);
      await send(names.topics.input, entries);
      const drainMs = await waitFor('the gate to commit every hostile input', () => drained(admin, names.groupId, names.topics.input), 90_000);
      const stillRunning = alive(gate);
      const exit = await terminate(gate, 20_000);

      const inputs: InputRecord[] = entries.map((e, i) => {
        const partition = i % PARTITIONS, offset = String(Math.floor(i / PARTITIONS));
        return { source: `${names.topics.input}/${partition}/${offset}`, partition, offset, kind: 'good', key: '' };
      });
      const t = tally(inputs, await readOutcomes(admin, codec, names.topics));
      // The kind header, where there is one, confirms the position → kind mapping.
      const misplaced = (await admin.readAll(names.topics.input)).filter((r) => {
        const h = r.headers[HOSTILE_HEADER]?.toString();
        return h !== undefined && h !== nameOf(entries[Number(r.offset) * PARTITIONS + r.partition]);
      });

      const rows = new Map<string, { group: string; expected: string; seen: Map<string, number>; what: string }>();
      const wrong: string[] = [];
      entries.forEach((e, i) => {
        const name = nameOf(e);
        const expected = e.kind === 'good' ? 'final' : e.kind.expected;
        const outcomes = t.bySource.get(inputs[i].source)!;
        const seen = outcomes.map((o) => (o.type === 'event' ? (o.event.final ? 'final' : 'provisional') : o.dead.reasonCode)).join('+') || 'none';
        const row = rows.get(name) ?? { group: e.kind === 'good' ? 'good' : e.kind.group, expected, seen: new Map(), what: e.kind === 'good' ? 'LFW crop with its landmarks' : e.kind.what };
        row.seen.set(seen, (row.seen.get(seen) ?? 0) + 1);
        rows.set(name, row);
        if (seen !== expected) wrong.push(`${name} at ${inputs[i].source}: expected ${expected}, got ${seen}${outcomes.length ? ` (${outcomes.map(describeOutcome).join('; ')})` : ''}`);
      });

      const hostileCount = entries.length - GOOD;
      const table = [
        '| kind | group | expected | seen | what |',
        '| --- | --- | --- | --- | --- |',
        ...[...rows].map(([kind, r]) => `| ${kind} | ${r.group} | ${r.expected} | ${[...r.seen].map(([s, n]) => `${s} ×${n}`).join(', ')} | ${r.what} |`),
      ].join('\n');
      const row = {
        client: kind, test: 'hostile', kinds: HOSTILE_KINDS.length, faults: hostileCount, faultsNote: `hostile messages, ${COPIES} of each kind, among ${GOOD} good crops`,
        inputs: entries.length, lost: t.missing.length, duplicates: [...t.duplicates.values()].reduce((s, n) => s + n - 1, 0),
        notes: `${wrong.length} with the wrong outcome; gate ${stillRunning ? 'alive' : 'DEAD'} after ${(drainMs / 1000).toFixed(0)} s; ${HOSTILE_KINDS.filter((k) => k.expected === 'final').length} kinds are odd but valid (final)`,
      };
      console.log(`hostile: ${HOSTILE_KINDS.length} kinds × ${COPIES} = ${hostileCount} hostile inputs among ${GOOD} good crops on ${PARTITIONS} partitions; ` +
        `all committed ${(drainMs / 1000).toFixed(1)} s after sending ended; gate ${stillRunning ? 'still running' : 'DEAD'}, exit ${exit}\n\n${table}`);
      const suite = await recordSummary(row, { title: `Hostile inputs (hostile.test.ts, ${kind})`, markdown: table });
      // The whole suite's table as recorded so far (each integrity test adds its own row).
      console.log(suite.slice(0, suite.indexOf('## ')).trim());

      expect(misplaced.map((r) => `${r.partition}/${r.offset}`)).toEqual([]);
      expect(stillRunning, gate.stderr().slice(-3000)).toBe(true);
      expect(t.missing.map((i) => i.source)).toEqual([]);
      expect([...t.duplicates]).toEqual([]);
      expect(t.strays).toEqual([]);
      expect(wrong).toEqual([]);
      expect(exit).toBe(0);
    } finally {
      await admin.close();
    }
  }, 120_000);
});
