import type avro from 'avsc';

/**
 * Walks an Avro body against its writer schema without decoding it, and says where it breaks.
 *
 * Why: avsc trusts block counts. A garbage array or map count of 2^31 makes it allocate and loop
 * two billion times before noticing the buffer ended, so one bad message could stall a partition.
 * Here every count is checked against the bytes left before anything is read.
 * Returns null when `buf` is exactly one well-formed value, else a reason.
 */
export function checkBounds(writer: avro.Type, buf: Uint8Array): string | null {
  const walker = new Walker(buf);
  try {
    walker.value(writer as unknown as AnyType, 0);
  } catch (err) {
    if (err instanceof OutOfBounds) return err.message;
    throw err;
  }
  return walker.pos === buf.length ? null : `${buf.length - walker.pos} trailing bytes after the value`;
}

// The slice of avsc's type classes this walk needs; avsc's .d.ts does not expose them all.
interface AnyType {
  typeName: string;
  size?: number;
  symbols?: string[];
  itemsType?: AnyType;
  valuesType?: AnyType;
  fields?: { type: AnyType }[];
  types?: AnyType[];
  underlyingType?: AnyType;
}

class OutOfBounds extends Error {}

// Nesting deeper than this in a face message is an attack or garbage, never data.
const MAX_DEPTH = 64;
// Only for items that take no bytes (null, empty records), which a count cannot be checked against.
const MAX_EMPTY_ITEMS = 1 << 16;

const minSizes = new WeakMap<AnyType, number>();

/** Fewest bytes one value of `type` can take; array/map/union stop the recursion at 1 byte. */
function minSize(type: AnyType): number {
  const known = minSizes.get(type);
  if (known !== undefined) return known;
  let size: number;
  switch (baseName(type)) {
    case 'null': size = 0; break;
    case 'float': size = 4; break;
    case 'double': size = 8; break;
    case 'fixed': size = type.size ?? 0; break;
    case 'record': case 'error': size = (type.fields ?? []).reduce((n, f) => n + minSize(f.type), 0); break;
    case 'logical': size = minSize(type.underlyingType as AnyType); break;
    default: size = 1;
  }
  minSizes.set(type, size);
  return size;
}

function baseName(type: AnyType): string {
  return type.typeName.split(':')[0];
}

class Walker {
  pos = 0;
  readonly #buf: Uint8Array;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
  }

  value(type: AnyType, depth: number): void {
    if (depth > MAX_DEPTH) this.#fail(`nesting deeper than ${MAX_DEPTH}`);
    switch (baseName(type)) {
      case 'null': return;
      case 'boolean': return this.#skip(1, 'boolean');
      case 'int': case 'long': this.#varint(); return;
      case 'float': return this.#skip(4, 'float');
      case 'double': return this.#skip(8, 'double');
      case 'bytes': case 'string': return this.#skip(this.#length('length'), 'bytes');
      case 'fixed': return this.#skip(type.size ?? 0, 'fixed');
      case 'enum': this.#index(type.symbols?.length ?? 0, 'enum'); return;
      case 'union': return this.value((type.types ?? [])[this.#index(type.types?.length ?? 0, 'union')], depth + 1);
      case 'record': case 'error':
        for (const field of type.fields ?? []) this.value(field.type, depth + 1);
        return;
      case 'array': return this.#blocks(minSize(type.itemsType as AnyType), () => this.value(type.itemsType as AnyType, depth + 1));
      case 'map': return this.#blocks(1 + minSize(type.valuesType as AnyType), () => {
        this.#skip(this.#length('map key length'), 'map key');
        this.value(type.valuesType as AnyType, depth + 1);
      });
      case 'logical': return this.value(type.underlyingType as AnyType, depth);
      default: this.#fail(`unsupported type ${type.typeName}`);
    }
  }

  #blocks(itemBytes: number, item: () => void): void {
    for (;;) {
      let count = this.#varint();
      if (count === 0) return;
      if (count < 0) {
        count = -count;
        this.#length('block size');
      }
      const left = this.#buf.length - this.pos;
      const max = itemBytes > 0 ? Math.floor(left / itemBytes) : MAX_EMPTY_ITEMS;
      if (count > max) this.#fail(`block of ${count} items cannot fit in ${left} bytes`);
      for (let i = 0; i < count; i++) item();
    }
  }

  #index(count: number, what: string): number {
    const i = this.#varint();
    if (i < 0 || i >= count) this.#fail(`${what} index ${i} out of range`);
    return i;
  }

  #length(what: string): number {
    const n = this.#varint();
    if (n < 0) this.#fail(`negative ${what} ${n}`);
    return n;
  }

  #skip(n: number, what: string): void {
    if (n > this.#buf.length - this.pos) this.#fail(`${what} runs past the end`);
    this.pos += n;
  }

  /** Zig-zag varint as a double: exact enough to compare against buffer sizes. */
  #varint(): number {
    let raw = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.#buf.length) this.#fail('varint runs past the end');
      const b = this.#buf[this.pos++];
      raw += (b & 0x7f) * scale;
      if (!(b & 0x80)) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      scale *= 128;
    }
    return this.#fail('varint longer than 10 bytes');
  }

  #fail(reason: string): never {
    throw new OutOfBounds(`${reason} at byte ${this.pos}`);
  }
}
