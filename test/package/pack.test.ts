/**
 * The package as a user gets it: `npm pack`, the tarball installed into an empty project (its
 * dependencies from the npm cache that `npm ci` filled), then `import … from 'diffiqa-gate'`
 * type-checked by tsc and run by node. Needs a build (`npm run build`; `npm test` does it first).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/plugin/core/paths.js';
import { sharedDir, sharedPath } from '../helpers/shared.js';

const root = packageRoot();
let dir: string;
let files: string[];

const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(async () => {
  if (!existsSync(path.join(root, 'dist', 'src', 'index.d.ts'))) throw new Error('dist/src/index.d.ts is missing: run `npm run build` first');
  dir = await mkdtemp(path.join(os.tmpdir(), 'diffiqa-pack-'));
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], root)) as { filename: string; files: { path: string }[] }[];
  files = packed.files.map((f) => f.path);
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'embedding-user', private: true, type: 'module' }));
  // --ignore-scripts: onnxruntime-node's postinstall only fetches CUDA files; its CPU binaries ship in the package.
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', path.join(dir, packed.filename)], dir);
}, 300_000);

afterAll(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

describe('npm package', () => {
  it('npm pack should ship the product, its schemas and own models, and no tools, tests or sources', () => {
    expect(files).toEqual(expect.arrayContaining([
      'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/plugin/cli/bin.js', 'src/schemas/FaceCrop.avsc', 'models/manifest.json', 'models/own/diffiqa-r-own.onnx', 'models/own/ediffiqa-t-own.onnx',
    ]));
    expect(files.filter((f) => f.startsWith('dist/src/tools/') || f.startsWith('test/') || (f.startsWith('src/') && f.endsWith('.ts')))).toEqual([]);
    // Only the build of today's sources: a stale dist/ (a moved folder's old output) would ship too.
    const stale = files.filter((f) => f.startsWith('dist/') && f.endsWith('.js') && !existsSync(path.join(root, f.slice('dist/'.length).replace(/\.js$/, '.ts'))));
    expect(stale, 'dist/ holds the output of sources that are gone: rm -rf dist && npm run build').toEqual([]);
  });

  it.each([['bench', '--quick'], ['evaluate', '--data', 'x']])('the installed CLI should say, with a coded error, that %s is a development tool not in the package', (tool, ...flags) => {
    const r = spawnSync(process.execPath, [path.join(dir, 'node_modules', 'diffiqa-gate', 'dist', 'src', 'plugin', 'cli', 'bin.js'), tool, ...flags], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`[USAGE] "${tool}" is a development tool, not part of this installation`);
  });

  it('the installed CLI should print its help (commander, a dependency of the package) listing the product commands', () => {
    const r = spawnSync(process.execPath, [path.join(dir, 'node_modules', 'diffiqa-gate', 'dist', 'src', 'plugin', 'cli', 'bin.js'), '--help'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const c of ['score', 'run', 'escalate', 'serve', 'config-doc']) expect(r.stdout).toContain(`  ${c} `);
  });

  it('import from diffiqa-gate should type-check with the shipped declarations', async () => {
    await writeFile(path.join(dir, 'use.ts'), `
import { createMemoryClient, createQualityScorer, errorCodes, GateError, startGate, type Frame, type QualityResult, type Stage } from 'diffiqa-gate';
const stage: Stage = { name: 'mine', process: async (batch: Frame[]) => batch, close: async () => {} };
const client = createMemoryClient();
const codes: string[] = Object.keys(errorCodes);
export async function use(bytes: Buffer): Promise<QualityResult[]> {
  const scorer = await createQualityScorer({ mode: 'cascade', config: { 'gate.accept': 0.8 } });
  try { return await scorer.score([{ bytes, id: 'a' }]); } finally { await scorer.close(); }
}
export const parts = { stage, client, codes, startGate, error: new GateError('USAGE', 'x').canRetry };
// @ts-expect-error the declarations are real types, not any: an unknown mode does not compile
void createQualityScorer({ mode: 'fast' });
`);
    await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')] },
      files: ['use.ts'],
    }));
    run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir);
  });

  it('import from diffiqa-gate should score a face from the installed package, and deep imports should be refused', async () => {
    const image = sharedPath('data', 'lfw', 'Aaron_Eckhart', 'Aaron_Eckhart_0001.jpg');
    await writeFile(path.join(dir, 'run.mjs'), `
import { readFileSync } from 'node:fs';
import { createQualityScorer } from 'diffiqa-gate';
const scorer = await createQualityScorer({ config: { 'models.mirror': ${JSON.stringify(sharedDir())}, 'inference.workers': 1 } });
const [r] = await scorer.score([readFileSync(${JSON.stringify(image)})]);
await scorer.close();
let deep = 'allowed';
try { await import('diffiqa-gate/dist/src/plugin/gate/gate.js'); } catch (err) { deep = err.code; }
console.log(JSON.stringify({ score: r.score, model: r.inline?.modelId, deep }));
`);
    const out = JSON.parse(run(process.execPath, ['run.mjs'], dir).trim().split('\n').pop()!) as { score: number; model: string; deep: string };
    expect(Number.isFinite(out.score)).toBe(true);
    expect(out.model).toBe('ediffiqa-t-own');
    expect(out.deep).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect((await readdir(path.join(dir, 'node_modules', 'diffiqa-gate', 'dist', 'src'))).sort()).toEqual(['index.d.ts', 'index.js', 'plugin', 'schemas']);
  });
});
