import type avro from 'avsc';
import { GateError } from '../plugin/core/errors.js';
import { parseSchema, schemaText } from './index.js';

/**
 * Where writer schemas live, by global id. `register` is idempotent: the same schema text gets
 * the same id. Errors: REGISTRY_NOT_FOUND (no such id/subject, or not an Avro schema),
 * REGISTRY_HTTP (transport or server trouble; `canRetry` says whether trying again may help).
 */
export interface SchemaRegistry {
  register(subject: string, schema: avro.Type | string): Promise<number>;
  getById(id: number): Promise<avro.Type>;
  latest(subject: string): Promise<{ id: number; type: avro.Type }>;
}

/** The subject Confluent's default TopicNameStrategy uses for a topic's values. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

function toText(schema: avro.Type | string): string {
  return typeof schema === 'string' ? JSON.stringify(JSON.parse(schema)) : schemaText(schema);
}

/** In-process registry with Confluent's id semantics, for tests, demos and single-process use. */
export class MemoryRegistry implements SchemaRegistry {
  #idsByText = new Map<string, number>();
  #byId = new Map<number, avro.Type>();
  #versions = new Map<string, number[]>();

  async register(subject: string, schema: avro.Type | string): Promise<number> {
    const text = toText(schema);
    let id = this.#idsByText.get(text);
    if (id === undefined) {
      id = this.#byId.size + 1;
      this.#byId.set(id, parseSchema(text));
      this.#idsByText.set(text, id);
    }
    const versions = this.#versions.get(subject) ?? [];
    if (!versions.includes(id)) versions.push(id);
    this.#versions.set(subject, versions);
    return id;
  }

  async getById(id: number): Promise<avro.Type> {
    const type = this.#byId.get(id);
    if (!type) throw new GateError('REGISTRY_NOT_FOUND', `schema id ${id} is not registered`, { details: { id } });
    return type;
  }

  async latest(subject: string): Promise<{ id: number; type: avro.Type }> {
    const id = this.#versions.get(subject)?.at(-1);
    if (id === undefined) throw new GateError('REGISTRY_NOT_FOUND', `subject ${subject} has no versions`, { details: { subject } });
    return { id, type: await this.getById(id) };
  }
}

export interface HttpSchemaRegistryOptions {
  /** Extra request headers, e.g. `authorization` for Confluent Cloud. */
  headers?: Record<string, string>;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** Client for the Confluent Schema Registry REST API. Schemas by id are immutable, so cached forever. */
export class HttpSchemaRegistry implements SchemaRegistry {
  readonly #baseUrl: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  #byId = new Map<number, Promise<avro.Type>>();
  #registered = new Map<string, number>();

  constructor(baseUrl: string, opts: HttpSchemaRegistryOptions = {}) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#headers = { accept: `${CONTENT_TYPE}, application/json`, ...opts.headers };
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async register(subject: string, schema: avro.Type | string): Promise<number> {
    const text = toText(schema);
    const key = `${subject}\u0000${text}`;
    const known = this.#registered.get(key);
    if (known !== undefined) return known;
    const body = await this.#request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema: text });
    const id = readId(body);
    this.#registered.set(key, id);
    return id;
  }

  getById(id: number): Promise<avro.Type> {
    let pending = this.#byId.get(id);
    if (!pending) {
      pending = this.#request('GET', `/schemas/ids/${id}`).then((body) => toType(body, `schema id ${id}`));
      // A failed lookup must not poison the cache: the next call asks again.
      pending.catch(() => this.#byId.delete(id));
      this.#byId.set(id, pending);
    }
    return pending;
  }

  async latest(subject: string): Promise<{ id: number; type: avro.Type }> {
    const body = await this.#request('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
    const id = readId(body);
    const type = toType(body, `subject ${subject}`);
    if (!this.#byId.has(id)) this.#byId.set(id, Promise.resolve(type));
    return { id, type };
  }

  async #request(method: string, urlPath: string, body?: unknown): Promise<Record<string, unknown>> {
    const url = this.#baseUrl + urlPath;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? this.#headers : { ...this.#headers, 'content-type': CONTENT_TYPE },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new GateError('REGISTRY_HTTP', `${method} ${url} failed: ${(err as Error).message}`, { cause: err, details: { url } });
    }
    const text = await res.text().catch(() => '');
    let json: Record<string, unknown> | undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status === 404) {
      throw new GateError('REGISTRY_NOT_FOUND', `${method} ${url}: ${String(json?.message ?? 'not found')}`, {
        details: { url, status: 404, errorCode: json?.error_code },
      });
    }
    if (!res.ok || typeof json !== 'object' || json === null) {
      // 5xx, timeouts and throttling may pass; a 4xx like 409 (incompatible) or 422 (invalid) will not.
      const transient = !res.ok ? res.status >= 500 || res.status === 408 || res.status === 429 : true;
      throw new GateError('REGISTRY_HTTP', `${method} ${url}: HTTP ${res.status} ${String(json?.message ?? text.slice(0, 200))}`, {
        canRetry: transient,
        details: { url, status: res.status, errorCode: json?.error_code },
      });
    }
    return json;
  }
}

function readId(body: Record<string, unknown>): number {
  const id = body.id;
  if (typeof id !== 'number' || !Number.isInteger(id)) {
    throw new GateError('REGISTRY_HTTP', `registry response has no integer id: ${JSON.stringify(body).slice(0, 200)}`, { canRetry: false });
  }
  return id;
}

function toType(body: Record<string, unknown>, what: string): avro.Type {
  const schemaType = body.schemaType ?? 'AVRO';
  if (schemaType !== 'AVRO' || typeof body.schema !== 'string') {
    // A Protobuf or JSON schema is as unreadable to us as a missing one.
    throw new GateError('REGISTRY_NOT_FOUND', `${what} is not an Avro schema (${String(schemaType)})`, { details: { schemaType } });
  }
  try {
    return parseSchema(body.schema);
  } catch (err) {
    throw new GateError('REGISTRY_NOT_FOUND', `${what} does not parse as Avro: ${(err as Error).message}`, { cause: err });
  }
}
