import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDoc } from '../../../src/plugin/config/doc.js';
import { schema } from '../../../src/plugin/config/schema.js';
import { packageRoot } from '../../../src/plugin/core/paths.js';

describe('configDoc', () => {
  it('configDoc should list every key and match the committed docs/configuration.md', () => {
    const doc = configDoc();
    for (const key of Object.keys(schema)) expect(doc).toContain(`\`${key}\``);
    const committed = readFileSync(path.join(packageRoot(), 'docs', 'configuration.md'), 'utf8');
    expect(committed, 'docs/configuration.md is stale: run `node dist/src/plugin/cli/bin.js config-doc > docs/configuration.md`').toBe(doc);
  });
});
