import type { KV } from '../core/ports.ts';
import type { KVNamespace } from './workers-types.ts';

/** The core's KV port over a Worker's KV namespace binding. */
export class KVBinding implements KV {
  constructor(private readonly ns: KVNamespace) {}

  get(key: string): Promise<string | null> {
    return this.ns.get(key);
  }

  put(key: string, value: string): Promise<void> {
    return this.ns.put(key, value);
  }

  delete(key: string): Promise<void> {
    return this.ns.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.ns.list({ prefix, ...(cursor ? { cursor } : {}) });
      for (const k of page.keys) out.push(k.name);
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return out;
  }
}
