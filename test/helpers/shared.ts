import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/plugin/core/paths.js';

/** The read-only data/model folder beside the checkout. Tests that need it fail, never skip. */
export function sharedDir(): string {
  const dir = process.env.DIFFIQA_SHARED ?? path.resolve(packageRoot(), '../shared');
  if (!existsSync(path.join(dir, 'models'))) {
    throw new Error(`../shared (models and face data) not found at ${dir}: set DIFFIQA_SHARED or DIFFIQA_ASSET_MIRROR; these tests need it`);
  }
  return dir;
}

export function sharedPath(...parts: string[]): string {
  return path.join(sharedDir(), ...parts);
}
