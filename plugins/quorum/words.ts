/** `1 run`, `6 runs`. */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Tenants against the quorum: `2 of 3 tenants endorse`, or `4 tenants endorse, 3 needed` once
 * past it; the verb is `endorse` for a staged rev, `object` for a watched promotion.
 */
export function tenantsWords(n: number, minTenants: number, verb = 'endorse'): string {
  return n <= minTenants ? `${n} of ${count(minTenants, 'tenant')} ${verb}${n === 1 ? 's' : ''}` : `${count(n, 'tenant')} ${verb}, ${minTenants} needed`;
}

/** Runs against what is needed: `6 runs, 5 needed` (never a fraction like 6/5). */
export function runsWords(runs: number, needed: number): string {
  return `${count(runs, 'run')}, ${needed} needed`;
}

/**
 * Where a rev stands, to be read at a glance: `2 of 3 tenants endorse; 4 runs, 5 needed; mean
 * 0.915`. The runs are the endorsing tenants' (what the rule counts); the mean is over all runs.
 */
export function progressWords(p: { endorsing: number; endorsingRuns: number; mean: number | null }, t: { minTenants: number; minRuns: number }): string {
  const mean = p.mean;
  return `${tenantsWords(p.endorsing, t.minTenants)}; ${runsWords(p.endorsingRuns, t.minRuns)}${mean === null || mean === undefined ? '' : `; mean ${mean.toFixed(3)}`}`;
}

/** `14 days`, `1 day`, `0.5 days`. */
export function daysWords(ms: number): string {
  const d = Math.round((ms / 86_400_000) * 100) / 100;
  return `${d} ${d === 1 ? 'day' : 'days'}`;
}

/** `3 days`, `5 hours`, `12 minutes`: the largest whole unit left (at least a minute). */
export function leftWords(ms: number): string {
  const units: [number, string][] = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute']];
  for (const [size, name] of units) {
    const n = Math.floor(ms / size);
    if (n >= 1) return `${n} ${name}${n === 1 ? '' : 's'}`;
  }
  return 'under a minute';
}
