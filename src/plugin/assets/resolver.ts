import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GateError } from '../core/errors.js';
import { cacheDir, packageRoot } from '../core/paths.js';
import type { ModelEntry } from './manifest.js';

export interface ResolverOptions {
  cacheDir?: string;
  /** Directory holding a copy of the upstream files (e.g. ../shared); env DIFFIQA_ASSET_MIRROR. */
  mirrorDir?: string;
  /** Off in CI and tests: a missing mirror must fail, not silently hit the network. */
  allowDownload?: boolean;
  fetchImpl?: typeof fetch;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Finds a model file and proves it is the one the manifest means (sha256), trying in order:
 * the cache, the repository (bundled), the mirror directory, the upstream URL.
 * Every failure is collected so the one error names the model and everything tried.
 */
export class AssetResolver {
  readonly #cache: string;
  readonly #mirror?: string;
  readonly #allowDownload: boolean;
  readonly #fetch: typeof fetch;
  readonly #verified = new Map<string, string>();

  constructor(opts: ResolverOptions = {}) {
    this.#cache = path.join(opts.cacheDir ?? cacheDir(), 'models');
    const mirror = opts.mirrorDir ?? process.env.DIFFIQA_ASSET_MIRROR;
    this.#mirror = mirror ? path.resolve(mirror) : undefined;
    this.#allowDownload = opts.allowDownload ?? process.env.DIFFIQA_ASSET_DOWNLOAD !== '0';
    this.#fetch = opts.fetchImpl ?? fetch;
  }

  async resolve(entry: ModelEntry): Promise<string> {
    // By digest, not id alone: a rollout gives an id another file, which must be found and checked afresh.
    const verifiedKey = `${entry.id}@${entry.sha256}`;
    const known = this.#verified.get(verifiedKey);
    if (known) return known;
    const tried: string[] = [];
    const target = path.join(this.#cache, entry.file);

    const candidates = this.#candidates(entry);
    if (!candidates.some((c) => c.label === 'mirror')) tried.push(entry.mirrorPath ? 'mirror: DIFFIQA_ASSET_MIRROR not set' : 'mirror: no mirrorPath in manifest');

    for (const c of candidates) {
      if (!existsSync(c.file)) { tried.push(`${c.label}: ${c.file} missing`); continue; }
      const digest = await sha256File(c.file);
      if (digest !== entry.sha256) { tried.push(`${c.label}: ${c.file} has sha256 ${digest.slice(0, 12)}…, expected ${entry.sha256.slice(0, 12)}…`); continue; }
      const file = c.copy ? await this.#install(c.file, target) : c.file;
      this.#verified.set(verifiedKey, file);
      return file;
    }

    if (entry.url && this.#allowDownload) {
      try {
        const file = await this.#download(entry, target);
        this.#verified.set(verifiedKey, file);
        return file;
      } catch (err) {
        tried.push(`download: ${entry.url}: ${(err as Error).message}`);
      }
    } else {
      tried.push(entry.url ? 'download: disabled (DIFFIQA_ASSET_DOWNLOAD=0)' : 'download: no upstream URL');
    }
    if (entry.derivedBy) tried.push(`build it with: ${entry.derivedBy}`);

    const corrupt = tried.some((t) => t.includes('has sha256'));
    throw new GateError(corrupt ? 'ASSET_CHECKSUM' : 'ASSET_NOT_FOUND', `model "${entry.id}" (${entry.file}) could not be resolved; tried: ${tried.join('; ')}`, { details: { model: entry.id, tried } });
  }

  /** Where `resolve` looks for the entry's file on disk, in order: what a model rollout watches. */
  candidateFiles(entry: ModelEntry): string[] {
    return this.#candidates(entry).map((c) => c.file);
  }

  /** Forgets that the entry's file was verified: the next `resolve` hashes it again (the file changed on disk). */
  forget(entry: ModelEntry): void {
    this.#verified.delete(`${entry.id}@${entry.sha256}`);
  }

  #candidates(entry: ModelEntry): { label: string; file: string; copy: boolean }[] {
    const out = [{ label: 'cache', file: path.join(this.#cache, entry.file), copy: false }];
    if (entry.bundledPath) out.push({ label: 'repository', file: path.join(packageRoot(), entry.bundledPath), copy: false });
    if (this.#mirror && entry.mirrorPath) out.push({ label: 'mirror', file: path.join(this.#mirror, entry.mirrorPath), copy: true });
    return out;
  }

  async #install(from: string, target: string): Promise<string> {
    await mkdir(path.dirname(target), { recursive: true });
    // Copy then rename: a crash mid-copy never leaves a half file under the final name.
    const tmp = `${target}.${process.pid}.tmp`;
    await copyFile(from, tmp);
    await rename(tmp, target);
    return target;
  }

  async #download(entry: ModelEntry, target: string): Promise<string> {
    const res = await this.#fetch(entry.url!, { redirect: 'follow' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    const digest = createHash('sha256').update(body).digest('hex');
    if (digest !== entry.sha256) throw new Error(`sha256 ${digest.slice(0, 12)}… does not match the manifest`);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, target).catch(async (err) => { await rm(tmp, { force: true }); throw err; });
    return target;
  }
}
