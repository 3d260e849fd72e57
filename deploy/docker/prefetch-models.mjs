#!/usr/bin/env node
/* global process, console */
/**
 * Puts the models a service needs into the model cache at image build time, through the product's
 * own manifest and resolver (sha256-checked), so the image starts without network or volume.
 *
 *   node deploy/docker/prefetch-models.mjs [--from DIR] [--models gate|escalation|all|ID,ID...] [--config FILE]
 *
 * --from DIR: a directory laid out like the cache (`<file>` or `models/<file>`, e.g. a copy of
 *   .cache/models; needed for models the manifest marks `derivedBy`, which have no upstream URL) or
 *   like the asset mirror (`mirrorPath`, e.g. ../shared). Files whose sha256 does not match are ignored.
 * Upstream URLs are tried last unless DIFFIQA_ASSET_DOWNLOAD=0. The cache is DIFFIQA_CACHE
 * (default <package>/.cache). Exit: 0 all resolved · 1 a model could not be resolved · 2 usage.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const load = (rel) => import(pathToFileURL(path.join(ROOT, 'dist', 'src', 'plugin', rel)).href);
const { loadConfigFile } = await load('config/load.js');
const { loadManifest, findModel } = await load('assets/manifest.js');
const { AssetResolver } = await load('assets/resolver.js');
const { cacheDir } = await load('core/paths.js');

const { values: opt } = parseArgs({ options: { from: { type: 'string' }, models: { type: 'string', default: 'all' }, config: { type: 'string' } } });
const cfg = loadConfigFile(opt.config);
const roles = {
  gate: [cfg.get('models.regressor'), cfg.get('models.detector')],
  escalation: [cfg.get('models.denoiser'), cfg.get('models.embedder')],
};
roles.all = [...roles.gate, ...roles.escalation];
const ids = roles[opt.models] ?? opt.models.split(',').map((s) => s.trim()).filter(Boolean);
if (ids.length === 0) { console.error('--models: nothing to fetch'); process.exit(2); }

const manifest = loadManifest(cfg.get('models.manifests'));
const cache = path.join(cacheDir(), 'models');
const from = opt.from ? path.resolve(opt.from) : undefined;
const resolver = new AssetResolver({ mirrorDir: from ?? (cfg.get('models.mirror') || undefined) });
mkdirSync(cache, { recursive: true });

let failed = 0;
for (const id of ids) {
  try {
    const entry = findModel(manifest, id);
    // A cache-layout copy goes straight into the cache; the resolver then proves its sha256.
    const candidate = from && [path.join(from, entry.file), path.join(from, 'models', entry.file)].find(existsSync);
    if (candidate && !existsSync(path.join(cache, entry.file))) copyFileSync(candidate, path.join(cache, entry.file));
    const file = await resolver.resolve(entry);
    console.log(`ok      ${id} (${entry.version}, ${entry.licence}) -> ${path.relative(ROOT, file)}`);
  } catch (err) {
    failed++;
    console.log(`FAILED  ${id}: ${err.code ? `[${err.code}] ` : ''}${err.message}`);
  }
}
process.exit(failed ? 1 : 0);
