import type avro from 'avsc';
import { GateError } from '../plugin/core/errors.js';
import { checkBounds } from './bounds.js';
import type { SchemaRegistry } from './registry.js';
import { encode, parseWire } from './wire.js';

// avsc's .d.ts declares Resolver without exporting it.
type Resolver = ReturnType<avro.Type['createResolver']>;

/**
 * Avro over the Confluent wire format, with writer schemas from a registry.
 *
 * decode() reads any writer schema the reader can resolve (schema evolution), and for bad input
 * only ever throws a GateError with an INPUT_* code: INPUT_NOT_WIRE_FORMAT (no header),
 * INPUT_UNKNOWN_SCHEMA (id not in the registry, or a writer schema the reader cannot resolve),
 * INPUT_AVRO_DECODE (truncated, garbage or trailing bytes). Registry outages surface as
 * REGISTRY_HTTP, which is not the message's fault and may be retried.
 */
export class AvroCodec {
  readonly #registry: SchemaRegistry;
  readonly #writers: Record<string, avro.Type>;
  #ids = new Map<string, Promise<number>>();
  #writerTypes = new Map<number, Promise<avro.Type>>();
  #resolvers = new WeakMap<avro.Type, Map<number, Resolver | GateError>>();

  /** `writers` maps each subject this codec encodes to its writer type. */
  constructor(registry: SchemaRegistry, writers: Record<string, avro.Type> = {}) {
    this.#registry = registry;
    this.#writers = writers;
  }

  /** Encodes `value` with the subject's writer type; the schema is registered on first use. */
  async encode(subject: string, value: unknown): Promise<Buffer> {
    const type = this.#writers[subject];
    if (!type) throw new GateError('CONFIG_INVALID', `no writer type configured for subject ${subject}`, { details: { subject } });
    const paths: string[] = [];
    if (!type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(root)') })) {
      // Our own output not fitting our own schema is a bug, not bad input.
      throw new GateError('INTERNAL', `value does not match ${subject} at ${paths.join(', ')}`, { details: { subject, paths } });
    }
    return encode(await this.#schemaId(subject, type), type, value);
  }

  /** Decodes a wire-format message into `readerType`'s shape. */
  async decode<T = unknown>(buf: Buffer, readerType: avro.Type): Promise<T> {
    const { schemaId, payload } = parseWire(buf);
    const writer = await this.#writerType(schemaId);
    const resolver = this.#resolver(schemaId, writer, readerType);
    const broken = checkBounds(writer, payload);
    if (broken) throw decodeError(schemaId, broken);
    try {
      return readerType.fromBuffer(payload, resolver) as T;
    } catch (err) {
      throw decodeError(schemaId, (err as Error).message, err);
    }
  }

  #schemaId(subject: string, type: avro.Type): Promise<number> {
    let id = this.#ids.get(subject);
    if (!id) {
      id = this.#registry.register(subject, type);
      id.catch(() => this.#ids.delete(subject));
      this.#ids.set(subject, id);
    }
    return id;
  }

  async #writerType(id: number): Promise<avro.Type> {
    let pending = this.#writerTypes.get(id);
    if (!pending) {
      pending = this.#registry.getById(id);
      pending.catch(() => this.#writerTypes.delete(id));
      this.#writerTypes.set(id, pending);
    }
    try {
      return await pending;
    } catch (err) {
      if (err instanceof GateError && err.code === 'REGISTRY_NOT_FOUND') {
        throw new GateError('INPUT_UNKNOWN_SCHEMA', `schema id ${id} is not in the registry`, { cause: err, details: { schemaId: id } });
      }
      if (err instanceof GateError) throw err;
      throw new GateError('REGISTRY_HTTP', `schema id ${id} lookup failed: ${(err as Error).message}`, { cause: err, details: { schemaId: id } });
    }
  }

  #resolver(id: number, writer: avro.Type, reader: avro.Type): Resolver {
    let byId = this.#resolvers.get(reader);
    if (!byId) this.#resolvers.set(reader, (byId = new Map()));
    let resolver = byId.get(id);
    if (!resolver) {
      try {
        resolver = reader.createResolver(writer);
      } catch (err) {
        // Cached too: every later message with this id fails the same way, cheaply.
        resolver = new GateError('INPUT_UNKNOWN_SCHEMA', `writer schema ${id} cannot be read as ${readerName(reader)}: ${(err as Error).message}`, {
          cause: err,
          details: { schemaId: id, reason: 'incompatible' },
        });
      }
      byId.set(id, resolver);
    }
    if (resolver instanceof GateError) throw resolver;
    return resolver;
  }
}

function readerName(type: avro.Type): string {
  return type.name ?? type.typeName;
}

function decodeError(schemaId: number, reason: string, cause?: unknown): GateError {
  return new GateError('INPUT_AVRO_DECODE', `payload does not decode with schema ${schemaId}: ${reason}`, { cause, details: { schemaId } });
}
