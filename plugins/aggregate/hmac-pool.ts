import type { Worker } from 'node:worker_threads';
import { RunIdHmac } from './run-id-hmac.js';

/**
 * The run_id HMACs of a large batch, computed on a second thread while the main thread
 * hashes and formats the batch's first rows: the HMAC is the largest single cost of a full
 * build. The worker (hmac-worker.js) runs the same HMAC module as this thread; both are
 * plain JavaScript, so the worker starts without the TypeScript loader. Any failure of the
 * worker makes the caller compute the HMACs itself, so results never depend on it.
 */
export class HmacPool {
  private worker: Worker | undefined;
  private dead = false;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (hex: Uint8Array) => void; reject: (err: Error) => void }>();

  private readonly probe: string;

  constructor(private readonly key: string) {
    this.probe = new RunIdHmac(key).hex16(PROBE);
  }

  /** 16 hex bytes per message, in order; rejects if the worker cannot do it. */
  async hex16(messages: string[]): Promise<Uint8Array> {
    const w = this.start();
    if (!w) throw new Error('no HMAC worker');
    const id = this.next++;
    if (this.waiting.size === 0) w.ref(); // a reply is awaited: keep the process alive for it
    const hex = await new Promise<Uint8Array>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, messages: [PROBE, ...messages] });
    });
    // Each reply starts with the HMAC of a probe: the worker's code must agree with this thread's.
    for (let i = 0; i < 16; i++) {
      if (hex[i] !== this.probe.charCodeAt(i)) {
        this.dead = true;
        void w.terminate();
        throw new Error('HMAC worker disagrees');
      }
    }
    return hex.subarray(16);
  }


  private start(): Worker | undefined {
    if (this.dead) return undefined;
    if (this.worker) return this.worker;
    try {
      // Taken when first needed: most runs (a no-op cron run) hash nothing.
      const { Worker } = process.getBuiltinModule('node:worker_threads');
      const w = new Worker(new URL('./hmac-worker.js', import.meta.url), { execArgv: [], workerData: { key: this.key } });
      w.unref();
      w.on('message', (m: { id: number; hex?: Uint8Array; error?: string }) => {
        const p = this.waiting.get(m.id);
        if (!p) return;
        this.waiting.delete(m.id);
        if (this.waiting.size === 0) w.unref();
        if (m.hex) p.resolve(m.hex);
        else p.reject(new Error(m.error ?? 'HMAC worker failed'));
      });
      const fail = (err: Error) => {
        this.dead = true;
        this.worker = undefined;
        for (const p of this.waiting.values()) p.reject(err);
        this.waiting.clear();
      };
      w.on('error', fail);
      w.on('exit', () => fail(new Error('HMAC worker exited')));
      this.worker = w;
      return w;
    } catch {
      this.dead = true;
      return undefined;
    }
  }
}

const PROBE = 'probe-run-id';
