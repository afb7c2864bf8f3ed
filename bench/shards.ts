// Simulation of docs/scale.md "Past one bucket" (no production code): the tick's work split over
// shards, each owning the tallies and daily summaries of its skills (a Durable Object per skill
// group). Ingest routes each batch's rows to the shards of their skills; each shard applies the
// rows it received since its last alarm. The fleet grows 1,000 -> 10,000 -> 100,000 tenants, each
// pushing ROWS rows a minute, and the shards grow with it (one per SKILLS_PER_SHARD skills, one skill
// per TENANTS_PER_SKILL tenants): the per-shard minute of work should stay flat.
import { createHash } from 'node:crypto';

export interface ShardSimOptions {
  fleets?: number[];
  rowsPerTenant?: number;
  tenantsPerSkill?: number;
  skillsPerShard?: number;
  log?: (m: string) => void;
}

interface Shard {
  /** rev or skill -> tenant -> [count, sum]: what a shard keeps, in memory as a Durable Object would. */
  tallies: Map<string, Map<string, [number, number]>>;
  inbox: { skill: string; tenant: number; score: number }[];
}

const shardOf = (skill: string, shards: number) => createHash('sha1').update(skill).digest().readUInt32BE(0) % shards;

function cpuMs<T>(fn: () => T): [T, number] {
  const c0 = process.cpuUsage();
  const r = fn();
  const c = process.cpuUsage(c0);
  return [r, (c.user + c.system) / 1000];
}

export function simulateShards(opts: ShardSimOptions = {}): Record<string, unknown>[] {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const rowsPerTenant = opts.rowsPerTenant ?? 10;
  const tenantsPerSkill = opts.tenantsPerSkill ?? 1;
  const skillsPerShard = opts.skillsPerShard ?? 1_000;
  const out: Record<string, unknown>[] = [];
  // The first fleet once more in front, unreported: the JIT warms up on it.
  const fleets = opts.fleets ?? [1_000, 10_000, 100_000];
  for (const [i, tenants] of [fleets[0]!, ...fleets].entries()) {
    const skills = Math.max(1, Math.floor(tenants / tenantsPerSkill));
    const n = Math.max(1, Math.ceil(skills / skillsPerShard));
    const shards: Shard[] = Array.from({ length: n }, () => ({ tallies: new Map(), inbox: [] }));
    const skillShard = Array.from({ length: skills }, (_, k) => shardOf(`s${k}`, n));
    // Routing (the ingest side): a row goes to its skill's shard.
    const [, routeMs] = cpuMs(() => {
      for (let t = 0; t < tenants; t++) {
        for (let i = 0; i < rowsPerTenant; i++) {
          const k = (t * 7919 + i * 131) % skills;
          shards[skillShard[k]!]!.inbox.push({ skill: `s${k}`, tenant: t, score: ((t + i) % 10) / 10 });
        }
      }
    });
    // Each shard's alarm: apply its inbox (measured one shard at a time).
    const per: number[] = [];
    for (const s of shards) {
      const [, ms] = cpuMs(() => {
        for (const r of s.inbox) {
          let byTenant = s.tallies.get(r.skill);
          if (!byTenant) s.tallies.set(r.skill, (byTenant = new Map()));
          const key = String(r.tenant);
          const v = byTenant.get(key) ?? [0, 0];
          v[0]++;
          v[1] += r.score;
          byTenant.set(key, v);
        }
        // What the shard persists at the end of its alarm: its state, serialized once.
        return JSON.stringify([...s.tallies].map(([k, m]) => [k, [...m]])).length;
      });
      per.push(ms);
      s.inbox = [];
    }
    per.sort((a, b) => a - b);
    const r = { tenants, skills, shards: n, rowsPerMinute: tenants * rowsPerTenant, perShardCpuMs: { median: round(per[Math.floor(per.length / 2)]!), p90: round(per[Math.floor(per.length * 0.9)]!), max: round(per[per.length - 1]!) }, routingCpuMsPerRow: round((routeMs / (tenants * rowsPerTenant)) * 1000) / 1000 };
    if (i === 0) continue;
    log(`  shards: ${tenants} tenants, ${n} shards: per-shard tick ${r.perShardCpuMs.median} ms median, ${r.perShardCpuMs.p90} ms p90, ${r.perShardCpuMs.max} ms max (a garbage collection lands in one shard's measure)`);
    out.push(r);
  }
  return out;
}

const round = (x: number) => Math.round(x * 100) / 100;
