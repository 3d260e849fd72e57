import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/plugin/config/load.js';
import { runBench } from '../../../src/tools/bench/run.js';
import { main } from '../../../src/plugin/cli/main.js';
import { EXIT } from '../../../src/plugin/cli/exit.js';
import type { BenchReport } from '../../../src/tools/bench/report.js';
import { sharedDir } from '../../helpers/shared.js';

const positive = (label: string, x: unknown) => {
  expect(typeof x, label).toBe('number');
  expect(Number.isFinite(x as number) && (x as number) > 0, `${label} = ${String(x)}`).toBe(true);
};

describe('runBench', () => {
  let out: string | undefined;
  afterAll(async () => { if (out) await rm(out, { recursive: true, force: true }); });

  // Smoke test of the real thing (LFW from ../shared, detector and embedder through the pool):
  // structure and sanity only, never timings — the machine is shared and noisy.
  it('runBench should write the quick prep report as JSON and markdown with finite, positive numbers', async () => {
    const mirror = sharedDir();
    out = await mkdtemp(path.join(os.tmpdir(), 'diffiqa-bench-'));
    const cfg = buildConfig({}, {}, { 'models.mirror': mirror });
    const { jsonPath, mdPath, markdown } = await runBench({ quick: true, prepOnly: true, outDir: out, cfg, command: 'vitest', log: () => {} });

    const report = JSON.parse(await readFile(jsonPath, 'utf8')) as BenchReport;
    expect(path.basename(jsonPath)).toBe(`${report.name}.json`);
    expect(report.mode).toBe('prep');
    expect(report.errors).toEqual({});
    expect(report.settings.intraOpThreads).toBe(cfg.get('inference.intraOpThreads'));
    positive('machine.cores', report.machine.cores);
    positive('durationS', report.durationS);

    const prep = report.prep!;
    expect(prep.images).toBe(report.settings.images);
    for (const [name, step] of Object.entries({ landmarkPath: prep.landmarkPath, landmarkPathConcurrent: prep.landmarkPathConcurrent, detectorPath: prep.detectorPath })) {
      positive(`${name}.msPerImage`, step.msPerImage);
      positive(`${name}.cpuMsPerImage`, step.cpuMsPerImage);
      expect(step.runsMs).toHaveLength(prep.repeats);
    }
    expect(prep.embedderId).toBe(cfg.get('models.embedder'));
    expect(prep.embed.map((r) => r.batch)).toEqual([1, 8, 32]);
    for (const r of prep.embed) {
      positive(`embed[${r.batch}].msPerImage`, r.msPerImage);
      positive(`embed[${r.batch}].cpuMsPerImage`, r.cpuMsPerImage);
    }
    // The prep run stops after the scoring core.
    expect(report.bare).toBeUndefined();
    expect(report.overhead).toBeUndefined();

    expect(await readFile(mdPath, 'utf8')).toBe(`${markdown}\n`);
    expect(markdown).toContain('decode + align (message landmarks)');
    expect(markdown).toContain(`embed ${prep.embedderId} via pool, batch 32`);
  }, 240_000);

  it('runBench with only bare should time the own inline models, the default first, and run no other section', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'diffiqa-bench-only-'));
    try {
      const cfg = buildConfig({}, {}, { 'models.mirror': sharedDir() });
      const { report, markdown } = await runBench({ quick: true, prepOnly: false, only: ['bare'], outDir: dir, cfg, command: 'vitest', log: () => {} });
      expect(report.errors).toEqual({});
      expect(report.bare?.map((b) => b.modelId)).toEqual([cfg.get('models.regressor'), 'diffiqa-r-own']);
      positive('bare[0].bare[0].msPerImage', report.bare![0].bare[0].msPerImage);
      expect(report.overhead).toBeUndefined();
      expect(report.peer).toEqual([]);
      expect(report.diffusion).toBeUndefined();
      expect(markdown).toContain('--only bare: the other sections were not run');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it('bench --only should refuse a section it does not have, naming the ones it has', async () => {
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => { err.push(String(chunk)); return true; }) as typeof process.stderr.write;
    try {
      expect(await main(['bench', '--only', 'gate,nope'])).toBe(EXIT.usage);
    } finally {
      process.stderr.write = write;
    }
    expect(err.join('')).toContain('bare, gate, peer, diffusion; not nope');
  });
});
