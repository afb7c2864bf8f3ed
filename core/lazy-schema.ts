import type { z } from 'zod';

/**
 * Parse results of snappy's own schemas, kept between runs by the host (the built CLI keeps
 * them in its cache folder, keyed by its build: cli/parse-memo.ts). A key is a schema's id
 * and the exact input; a value is the parsed output as JSON. Only successes are kept.
 */
export interface ParseMemo {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

let memo: ParseMemo | undefined;

/** Installs (or, with undefined, removes) the memo every lazy schema consults. */
export function useParseMemo(m: ParseMemo | undefined): void {
  memo = m;
}

/**
 * A schema made on its first use, not when its module loads. It behaves as the schema `make`
 * returns. Given a `memoId` (unique to it: the memo's key), its parses of plain JSON data are
 * remembered in the installed ParseMemo, so a run that parses only what an earlier run of the
 * same build parsed (a cron job's config and options) neither builds a schema nor loads zod.
 * Only for what a run parses a few times: each new input is an entry. Not for use inside
 * another schema: give that the real one.
 */
export function lazySchema<T extends z.ZodType>(make: () => T, memoId?: string): T {
  let real: T | undefined;
  const schema = (): T => (real ??= make());
  const safeParse = (value: unknown, params?: unknown) => {
    const key = memo && memoId !== undefined && params === undefined ? memoKey(memoId, value) : undefined;
    if (key !== undefined) {
      const hit = memo!.get(key);
      if (hit !== undefined) {
        try {
          return { success: true as const, data: JSON.parse(hit) as z.output<T> };
        } catch {
          // A damaged entry is a miss.
        }
      }
    }
    const res = params === undefined ? schema().safeParse(value) : schema().safeParse(value, params as never);
    if (key !== undefined && res.success) {
      const out = plainJson(res.data);
      if (out !== undefined) memo!.set(key, out);
    }
    return res;
  };
  const parse = (value: unknown, params?: unknown) => {
    const res = safeParse(value, params);
    if (res.success) return res.data;
    throw res.error;
  };
  return new Proxy({} as T, {
    get: (_, k) => {
      if (k === 'safeParse') return safeParse;
      if (k === 'parse') return parse;
      // `await` asks any value for a `then`; a schema has none, and asking must not make it.
      if (k === 'then' && !real) return undefined;
      return Reflect.get(schema(), k);
    },
    has: (_, k) => k in schema(),
    ownKeys: () => Reflect.ownKeys(schema()),
    getOwnPropertyDescriptor: (_, k) => {
      const d = Reflect.getOwnPropertyDescriptor(schema(), k);
      return d && { ...d, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(schema()),
  });
}

/** The memo key of parsing `value` with schema `id`, or undefined when `value` is not plain data. */
function memoKey(id: string, value: unknown): string | undefined {
  const v = serialize(value, true);
  return v === undefined ? undefined : `${id}\0${v}`;
}

/** `value` as JSON when JSON gives it back exactly (plain objects and arrays, strings, finite numbers, booleans, null). */
function plainJson(value: unknown): string | undefined {
  return serialize(value, false);
}

/**
 * An exact text of plain data, in insertion order; undefined for anything else (a function, a
 * class instance, a cycle, a non-finite number). With `undefinedOk`, an undefined value is
 * written as a mark of its own: parsing `{a: undefined}` may differ from parsing `{}`.
 */
function serialize(value: unknown, undefinedOk: boolean, depth = 0): string | undefined {
  if (depth > 64) return undefined;
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? String(value) : undefined;
    case 'undefined':
      return undefinedOk ? '#u' : undefined;
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return undefined;
        const parts: string[] = [];
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return undefined;
          const s = serialize(value[i], undefinedOk, depth + 1);
          if (s === undefined) return undefined;
          parts.push(s);
        }
        return `[${parts.join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const keys = Object.keys(value);
      if (Reflect.ownKeys(value).length !== keys.length) return undefined; // a symbol or a hidden key
      const parts: string[] = [];
      for (const k of keys) {
        const d = Object.getOwnPropertyDescriptor(value, k)!;
        if (!('value' in d)) return undefined; // a getter
        const s = serialize(d.value, undefinedOk, depth + 1);
        if (s === undefined) return undefined;
        parts.push(`${JSON.stringify(k)}:${s}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      return undefined;
  }
}
