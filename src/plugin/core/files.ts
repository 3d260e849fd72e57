import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const IMAGE = /\.(jpe?g|png|webp)$/i;

/**
 * Expands files and folders (recursively) into image files, sorted for stable output. Named paths
 * are kept whatever they are (a missing one too, for the caller to report); `everyFile` keeps every
 * file found in the folders as well, not only those named like images.
 */
export async function listImages(inputs: string[], opts: { everyFile?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  async function walk(p: string, explicit: boolean): Promise<void> {
    const s = await stat(p).catch(() => undefined);
    if (!s) { if (explicit) out.push(p); return; }
    if (s.isDirectory()) {
      const names = (await readdir(p)).sort();
      for (const n of names) await walk(path.join(p, n), false);
    } else if (explicit || opts.everyFile || IMAGE.test(p)) {
      out.push(p);
    }
  }
  for (const i of inputs) await walk(i, true);
  return out;
}
