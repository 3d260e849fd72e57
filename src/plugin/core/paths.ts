import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The repository/package root: the nearest folder above this module holding package.json.
 *  Works from `src/` (vitest) and from `dist/src/` (built). */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  cachedRoot = dir;
  return dir;
}

/** Where derived assets, resolved models and datasets live. */
export function cacheDir(): string {
  return process.env.DIFFIQA_CACHE ? path.resolve(process.env.DIFFIQA_CACHE) : path.join(packageRoot(), '.cache');
}

/** Maps a module under src/ to its compiled twin under dist/src/, so worker threads
 *  (which need plain JS on Node 20) can be started from tests that run the TS sources. */
export function compiledSibling(moduleUrl: string, relative: string): string {
  const here = fileURLToPath(moduleUrl);
  const root = packageRoot();
  const rel = path.relative(root, path.dirname(here));
  const inDist = rel.startsWith('dist' + path.sep) ? rel : path.join('dist', rel);
  return path.join(root, inDist, relative.replace(/\.ts$/, '.js'));
}
