import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SCHEMA_DIR, SCHEMA_NAMESPACE, deadLetterType, escalationRequestType, faceCropType, faceQualityType,
  findRepoRoot, loadSchema, parseSchema, schemaText,
} from '../../src/schemas/index.js';
import { faceCropV0Path, sampleDeadLetter, sampleEscalationRequest, sampleFaceCrop, sampleFaceQuality } from './fixtures/samples.js';

const repoRoot = findRepoRoot();

interface Field { name: string; type: unknown; doc?: string; default?: unknown }

/** Every record field in a schema, nested records included. */
function fieldsOf(schema: unknown, out: { record: string; field: Field }[] = []): { record: string; field: Field }[] {
  if (Array.isArray(schema)) schema.forEach((s) => fieldsOf(s, out));
  else if (schema && typeof schema === 'object') {
    const s = schema as { type?: unknown; name?: string; fields?: Field[]; items?: unknown; values?: unknown };
    for (const field of s.fields ?? []) {
      out.push({ record: s.name ?? '?', field });
      fieldsOf(field.type, out);
    }
    if (s.items) fieldsOf(s.items, out);
    if (s.values) fieldsOf(s.values, out);
    if (typeof s.type === 'object') fieldsOf(s.type, out);
  }
  return out;
}

describe('schemas', () => {
  it('findRepoRoot should find the folder with package.json from src/ and from a dist/ build', () => {
    expect(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).toContain('"name"');
    // tsc does not copy .avsc files: the built module must still land on src/schemas.
    expect(findRepoRoot(path.join(repoRoot, 'dist', 'src', 'schemas'))).toBe(repoRoot);
    expect(SCHEMA_DIR).toBe(path.join(repoRoot, 'src', 'schemas'));
  });

  it('loadSchema should parse every .avsc file in src/schemas into a named record in the gate namespace', () => {
    const files = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.avsc')).sort();
    expect(files).toEqual(['DeadLetter.avsc', 'EscalationRequest.avsc', 'FaceCrop.avsc', 'FaceQuality.avsc']);
    for (const file of files) {
      expect(loadSchema(file.replace('.avsc', '')).name).toBe(`${SCHEMA_NAMESPACE}.${file.replace('.avsc', '')}`);
    }
    expect([faceCropType, faceQualityType, deadLetterType, escalationRequestType].map((t) => t.typeName)).toEqual(['record', 'record', 'record', 'record']);
  });

  it('schema files should document every field, nested records included', () => {
    for (const file of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.avsc'))) {
      const undocumented = fieldsOf(JSON.parse(readFileSync(path.join(SCHEMA_DIR, file), 'utf8')))
        .filter(({ field }) => !field.doc?.trim())
        .map(({ record, field }) => `${record}.${field.name}`);
      expect(undocumented, file).toEqual([]);
    }
  });

  it('FaceCrop should give a default to every field the v0 schema lacks, so new readers read old data', () => {
    const v0Names = new Set(fieldsOf(JSON.parse(readFileSync(faceCropV0Path, 'utf8'))).map(({ field }) => field.name));
    const added = fieldsOf(JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'FaceCrop.avsc'), 'utf8')))
      .filter(({ record, field }) => record === 'FaceCrop' && !v0Names.has(field.name));
    expect(added.map(({ field }) => field.name)).toEqual(['trackId', 'detectorScore', 'bbox']);
    for (const { field } of added) expect(field, field.name).toHaveProperty('default');
  });

  it('type.toBuffer should round-trip a sample of each record', () => {
    const cases = [
      [faceCropType, sampleFaceCrop()],
      [faceQualityType, sampleFaceQuality()],
      [deadLetterType, sampleDeadLetter()],
      [escalationRequestType, sampleEscalationRequest()],
    ] as const;
    for (const [type, value] of cases) {
      expect(type.isValid(value), type.name).toBe(true);
      expect(type.fromBuffer(type.toBuffer(value))).toEqual(value);
    }
  });

  it('schemaText should keep docs, logical types and enum defaults that avsc drops on export', () => {
    const text = JSON.parse(schemaText(faceCropType));
    expect(text).toEqual(JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'FaceCrop.avsc'), 'utf8')));
    expect(JSON.stringify(text)).toContain('timestamp-millis');
    // A type not built by parseSchema still gets a usable text.
    const plain = parseSchema({ type: 'record', name: 'X', fields: [{ name: 'a', type: 'int' }] });
    expect(JSON.parse(schemaText(plain)).name).toBe('X');
  });
});
