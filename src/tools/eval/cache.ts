import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, open, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GateError } from '../../plugin/core/errors.js';

/**
 * On-disk cache of everything `evaluate` computes per image, so a rerun with one new scorer
 * computes only that scorer. Layout under `<root>/<key hash>/`:
 *   faces.u8         aligned faces, row r at r·size²·3 (RGB HWC uint8)
 *   embeddings.f32   FR embeddings, row r at r·dim (float32, native order)
 *   scores/<k>.f32   one float32 per row per scorer, NaN = not computed yet
 *   index.json       file → row (or why it was skipped), landmarks, eye distance
 * Rows are only ever appended, and the index is written after the rows it names, so a killed
 * run leaves at most unindexed bytes at the end, which open() cuts off.
 */

export interface FaceRecord {
  row: number;
  eyeDistance: number;
  detectorScore?: number;
  landmarks: [number, number][];
}

export interface SkipRecord {
  skip: string;
  message: string;
}

interface IndexFile {
  version: 1;
  key: unknown;
  size: number;
  dim: number;
  rows: number;
  files: Record<string, FaceRecord | SkipRecord>;
}

export function isSkip(r: FaceRecord | SkipRecord): r is SkipRecord {
  return 'skip' in r;
}

/** Stable short hash of a JSON-able key (sorted object keys, so property order does not matter). */
export function keyHash(key: unknown): string {
  const canon = (v: unknown): unknown => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]))
    : Array.isArray(v) ? v.map(canon) : v);
  return createHash('sha256').update(JSON.stringify(canon(key))).digest('hex').slice(0, 16);
}

/** Scorer ids carry ':' and '@'; file names get a readable, collision-free form. */
function scoreFile(scorerKey: string): string {
  return `${scorerKey.replace(/[^A-Za-z0-9._-]/g, '_')}-${keyHash(scorerKey).slice(0, 8)}.f32`;
}

export class EvalCache {
  readonly dir: string;
  readonly #index: IndexFile;
  readonly #lock: string;
  #closed = false;

  private constructor(dir: string, index: IndexFile) {
    this.dir = dir;
    this.#index = index;
    this.#lock = path.join(dir, 'lock');
  }

  /**
   * Opens (or creates) the cache for `key` under `root`. A lock file keeps two runs from
   * appending to the same rows; a lock left by a dead process is taken over.
   */
  static async open(root: string, key: unknown, size = 112): Promise<EvalCache> {
    const dir = path.join(root, keyHash(key));
    await mkdir(path.join(dir, 'scores'), { recursive: true });
    await takeLock(path.join(dir, 'lock'));
    const indexPath = path.join(dir, 'index.json');
    let index: IndexFile = { version: 1, key, size, dim: 0, rows: 0, files: {} };
    if (existsSync(indexPath)) {
      const stored = JSON.parse(await readFile(indexPath, 'utf8')) as IndexFile;
      if (stored.version === 1 && stored.size === size) index = stored;
    }
    const cache = new EvalCache(dir, index);
    await cache.#cutTo(index.rows);
    return cache;
  }

  get rows(): number { return this.#index.rows; }
  get size(): number { return this.#index.size; }
  get dim(): number { return this.#index.dim; }

  record(file: string): FaceRecord | SkipRecord | undefined {
    return this.#index.files[file];
  }

  /** Appends faces and embeddings (same order), then indexes them; skips are indexed only. */
  async append(items: ({ file: string } & ({ face: Uint8Array; embedding: Float32Array; eyeDistance: number; detectorScore?: number; landmarks: [number, number][] } | SkipRecord))[]): Promise<void> {
    const ok = items.filter((i): i is Extract<typeof i, { face: Uint8Array }> => 'face' in i);
    const faceBytes = this.size * this.size * 3;
    if (ok.length > 0) {
      const dim = ok[0].embedding.length;
      if (this.#index.dim === 0) this.#index.dim = dim;
      for (const i of ok) {
        if (i.face.length !== faceBytes) throw new GateError('INTERNAL', `aligned face of ${i.file} has ${i.face.length} bytes, expected ${faceBytes}`);
        if (i.embedding.length !== this.#index.dim) throw new GateError('INTERNAL', `embedding of ${i.file} has ${i.embedding.length} values, cache holds ${this.#index.dim}`);
      }
      await appendFile(path.join(this.dir, 'faces.u8'), Buffer.concat(ok.map((i) => Buffer.from(i.face.buffer, i.face.byteOffset, i.face.byteLength))));
      await appendFile(path.join(this.dir, 'embeddings.f32'), Buffer.concat(ok.map((i) => Buffer.from(i.embedding.buffer, i.embedding.byteOffset, i.embedding.byteLength))));
    }
    for (const i of items) {
      if ('face' in i) {
        const round = (v: number) => Math.round(v * 100) / 100;
        this.#index.files[i.file] = { row: this.#index.rows++, eyeDistance: i.eyeDistance, detectorScore: i.detectorScore, landmarks: i.landmarks.map(([x, y]) => [round(x), round(y)]) };
      } else {
        this.#index.files[i.file] = { skip: i.skip, message: i.message };
      }
    }
    await this.#writeIndex();
  }

  /** Faces of `rows`, read from disk (an LFW-sized set does not fit comfortably in memory). */
  async faces(rows: readonly number[]): Promise<Uint8Array[]> {
    const n = this.size * this.size * 3;
    const fh = await open(path.join(this.dir, 'faces.u8'), 'r');
    try {
      return await Promise.all(rows.map(async (r) => {
        const buf = new Uint8Array(n);
        const { bytesRead } = await fh.read(buf, 0, n, r * n);
        if (bytesRead !== n) throw new GateError('INTERNAL', `eval cache ${this.dir}: face row ${r} is truncated`);
        return buf;
      }));
    } finally {
      await fh.close();
    }
  }

  /** All embeddings, one view per row. */
  async embeddings(): Promise<Float32Array[]> {
    if (this.rows === 0) return [];
    const buf = await readFile(path.join(this.dir, 'embeddings.f32'));
    const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + this.rows * this.dim * 4));
    return Array.from({ length: this.rows }, (_, r) => all.subarray(r * this.dim, (r + 1) * this.dim));
  }

  /** A scorer's values for every row; rows it has not scored yet are NaN. */
  async scores(scorerKey: string): Promise<Float32Array> {
    const out = new Float32Array(this.rows).fill(NaN);
    const file = path.join(this.dir, 'scores', scoreFile(scorerKey));
    if (existsSync(file)) {
      const buf = await readFile(file);
      const stored = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength - (buf.byteLength % 4)));
      out.set(stored.subarray(0, Math.min(stored.length, this.rows)));
    }
    return out;
  }

  async writeScores(scorerKey: string, values: Float32Array): Promise<void> {
    const file = path.join(this.dir, 'scores', scoreFile(scorerKey));
    await writeFile(`${file}.tmp`, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    await rename(`${file}.tmp`, file);
    await writeFile(`${file.slice(0, -4)}.json`, JSON.stringify({ scorer: scorerKey, rows: values.length, computed: values.filter((v) => !Number.isNaN(v)).length }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await rm(this.#lock, { force: true });
  }

  async #writeIndex(): Promise<void> {
    const file = path.join(this.dir, 'index.json');
    await writeFile(`${file}.tmp`, JSON.stringify(this.#index));
    await rename(`${file}.tmp`, file);
  }

  async #cutTo(rows: number): Promise<void> {
    const cut = async (name: string, bytes: number) => {
      const file = path.join(this.dir, name);
      if (existsSync(file)) await truncate(file, bytes);
      else if (bytes > 0) throw new GateError('INTERNAL', `eval cache ${this.dir}: ${name} is missing; delete the folder to rebuild it`);
    };
    await cut('faces.u8', rows * this.size * this.size * 3);
    await cut('embeddings.f32', rows * this.dim * 4);
  }
}

async function takeLock(file: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(await readFile(file, 'utf8').catch(() => ''));
      if (pid > 0 && pid !== process.pid && alive(pid)) {
        throw new GateError('USAGE', `evaluation cache ${path.dirname(file)} is in use by process ${pid}`, { details: { pid } });
      }
      await rm(file, { force: true });
    }
  }
  throw new GateError('INTERNAL', `cannot lock evaluation cache ${path.dirname(file)}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
