import { Refusal } from './local.ts';

/** How often and how patiently a transfer is retried. */
export interface RetryPolicy {
  retries: number;
  baseMs: number;
}

/**
 * Runs `fn`, retrying failures with exponential backoff and full jitter (so a fleet that lost
 * its server at the same moment does not come back in lockstep). Refusals, and errors marked
 * `retryable: false` (a Worker's 4xx answer), are final.
 */
export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Refusal || (err as { retryable?: unknown })?.retryable === false || attempt >= policy.retries) throw err;
      const cap = policy.baseMs * 2 ** attempt;
      await new Promise((r) => setTimeout(r, cap / 2 + Math.random() * (cap / 2)));
    }
  }
}
