import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GateError } from '../../src/plugin/core/errors.js';
import { faceCropType, faceQualityType, loadSchema, schemaText } from '../../src/schemas/index.js';
import { HttpSchemaRegistry, MemoryRegistry, valueSubject } from '../../src/schemas/registry.js';
import { startFakeRegistry, type FakeRegistry } from './fixtures/fake-registry.js';
import { faceCropV0Path } from './fixtures/samples.js';

async function rejection(p: Promise<unknown>): Promise<GateError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof GateError)) throw new Error(`expected a GateError, got ${String(err)}`);
  return err;
}

describe('MemoryRegistry', () => {
  it('register should assign ids sequentially and give the same schema the same id', async () => {
    const reg = new MemoryRegistry();
    const a = await reg.register('faces-value', faceCropType);
    const b = await reg.register('quality-value', faceQualityType);
    expect([a, b]).toEqual([1, 2]);
    expect(await reg.register('faces-value', faceCropType)).toBe(a);
    // Same text from another Type instance, or as a string, or under another subject: same id.
    expect(await reg.register('other', loadSchema('FaceCrop'))).toBe(a);
    expect(await reg.register('faces-value', schemaText(faceCropType))).toBe(a);
  });

  it('getById should return an equivalent type and fail REGISTRY_NOT_FOUND for unknown ids', async () => {
    const reg = new MemoryRegistry();
    const id = await reg.register('faces-value', faceCropType);
    expect((await reg.getById(id)).equals(faceCropType)).toBe(true);
    expect((await rejection(reg.getById(99))).code).toBe('REGISTRY_NOT_FOUND');
  });

  it('latest should return the last schema registered under the subject', async () => {
    const reg = new MemoryRegistry();
    const v0 = loadSchema(faceCropV0Path);
    const first = await reg.register('faces-value', v0);
    const second = await reg.register('faces-value', faceCropType);
    expect(first).not.toBe(second);
    const latest = await reg.latest('faces-value');
    expect(latest.id).toBe(second);
    expect(latest.type.equals(faceCropType)).toBe(true);
    expect((await rejection(reg.latest('nope'))).code).toBe('REGISTRY_NOT_FOUND');
  });

  it('valueSubject should follow the TopicNameStrategy', () => {
    expect(valueSubject('faces')).toBe('faces-value');
  });
});

describe('HttpSchemaRegistry', () => {
  let fake: FakeRegistry;
  beforeEach(async () => {
    fake = await startFakeRegistry();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('register should POST the schema text as a JSON string with the registry content type', async () => {
    const reg = new HttpSchemaRegistry(`${fake.url}/`);
    const id = await reg.register('faces/value', faceCropType);
    expect(id).toBe(1);
    const [req] = fake.requests;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/subjects/faces%2Fvalue/versions');
    expect(req.headers['content-type']).toBe('application/vnd.schemaregistry.v1+json');
    expect(req.body).toEqual({ schema: schemaText(faceCropType) });
    expect(typeof (req.body as { schema: unknown }).schema).toBe('string');
  });

  it('register should ask the server once per subject and schema', async () => {
    const reg = new HttpSchemaRegistry(fake.url);
    expect(await reg.register('faces-value', faceCropType)).toBe(await reg.register('faces-value', faceCropType));
    expect(await reg.register('quality-value', faceQualityType)).toBe(2);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
  });

  it('getById should fetch a schema once and answer later calls from the cache', async () => {
    const reg = new HttpSchemaRegistry(fake.url);
    const id = await reg.register('faces-value', faceCropType);
    const fresh = new HttpSchemaRegistry(fake.url);
    const [a, b] = await Promise.all([fresh.getById(id), fresh.getById(id)]);
    expect(a.equals(faceCropType)).toBe(true);
    expect(await fresh.getById(id)).toBe(a);
    expect(a).toBe(b);
    expect(fake.requests.filter((r) => r.url === `/schemas/ids/${id}`)).toHaveLength(1);
  });

  it('getById should fail REGISTRY_NOT_FOUND for an unknown id, and ask again next time', async () => {
    const reg = new HttpSchemaRegistry(fake.url);
    const err = await rejection(reg.getById(42));
    expect(err.code).toBe('REGISTRY_NOT_FOUND');
    expect(err.canRetry).toBe(false);
    expect(err.details?.errorCode).toBe(40403);
    await rejection(reg.getById(42));
    expect(fake.requests.filter((r) => r.url === '/schemas/ids/42')).toHaveLength(2);
  });

  it('getById should fail REGISTRY_NOT_FOUND for a schema that is not Avro', async () => {
    fake.foreign.set(7, 'syntax = "proto3"; message M {}');
    const err = await rejection(new HttpSchemaRegistry(fake.url).getById(7));
    expect(err.code).toBe('REGISTRY_NOT_FOUND');
    expect(err.details?.schemaType).toBe('PROTOBUF');
  });

  it('latest should return the id and type of the last version of a subject', async () => {
    const reg = new HttpSchemaRegistry(fake.url);
    const v0 = loadSchema(faceCropV0Path);
    await reg.register('faces-value', v0);
    const id = await reg.register('faces-value', faceCropType);
    const latest = await reg.latest('faces-value');
    expect(latest.id).toBe(id);
    expect(latest.type.equals(faceCropType)).toBe(true);
    const err = await rejection(reg.latest('missing-value'));
    expect(err.code).toBe('REGISTRY_NOT_FOUND');
    expect(err.details?.errorCode).toBe(40401);
  });

  it('requests should fail REGISTRY_HTTP, retryable, on server errors and throttling', async () => {
    const reg = new HttpSchemaRegistry(fake.url);
    for (const status of [500, 503, 429]) {
      fake.fail = { status, body: { error_code: status * 100, message: 'boom' } };
      const err = await rejection(reg.getById(1));
      expect([err.code, err.canRetry, err.details?.status]).toEqual(['REGISTRY_HTTP', true, status]);
    }
  });

  it('register should fail REGISTRY_HTTP, not retryable, when the server refuses the schema', async () => {
    fake.fail = { status: 409, body: { error_code: 409, message: 'Schema being registered is incompatible' } };
    const err = await rejection(new HttpSchemaRegistry(fake.url).register('faces-value', faceCropType));
    expect([err.code, err.canRetry]).toEqual(['REGISTRY_HTTP', false]);
    expect(err.message).toContain('incompatible');
    // The refusal was not cached: once the server accepts, registering works.
    fake.fail = undefined;
    const reg = new HttpSchemaRegistry(fake.url);
    expect(await reg.register('faces-value', faceCropType)).toBe(1);
  });

  it('requests should fail REGISTRY_HTTP, retryable, when nothing listens', async () => {
    const url = fake.url;
    await fake.close();
    fake = await startFakeRegistry(); // afterEach closes this one
    const err = await rejection(new HttpSchemaRegistry(url).getById(1));
    expect([err.code, err.canRetry]).toEqual(['REGISTRY_HTTP', true]);
  });

  it('requests should fail REGISTRY_HTTP, retryable, when the server does not answer in time', async () => {
    const silent = http.createServer(() => { /* never answers */ });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const started = Date.now();
      const err = await rejection(new HttpSchemaRegistry(`http://127.0.0.1:${port}`, { timeoutMs: 200 }).getById(1));
      expect([err.code, err.canRetry]).toEqual(['REGISTRY_HTTP', true]);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('requests should send the configured headers', async () => {
    await new HttpSchemaRegistry(fake.url, { headers: { authorization: 'Basic dTpw' } }).register('s', faceCropType);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0].headers.authorization).toBe('Basic dTpw');
    expect(fake.requests[0].headers.accept).toContain('application/vnd.schemaregistry.v1+json');
  });
});
