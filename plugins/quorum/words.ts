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
