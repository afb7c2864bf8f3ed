import { ErrorCode, SnappyError } from '../core/errors.ts';
import type { BlobStore } from '../core/ports.ts';
import { isMalformed, readJson } from './json-store.ts';
import { Remote } from './layout.ts';
import { LAYOUT, RELEASE } from './versions.ts';

/** `snappy-meta/layout.json`: the layout the remote's keys follow, and the release that wrote it. */
export interface LayoutMarker {
  layout: number;
  release: string;
  since: string;
}

/** What a remote says of its layout: the marker's version, or 1 for a remote without one. */
export interface LayoutFound {
  layout: number;
  marker: LayoutMarker | null;
}

const isMarker = (v: unknown): boolean => !!v && typeof v === 'object' && Number.isSafeInteger((v as LayoutMarker).layout) && (v as LayoutMarker).layout >= 1;

/**
 * Migrations of the remote layout, by the version they start from: each moves a remote from
 * `from` to `from + 1` and must be safe to run again after a kill.
 */
const MIGRATIONS: Record<number, (blobs: BlobStore) => Promise<void>> = {
  // 1 -> 2: nothing to rewrite. The rows of layout 1 (`changelog/<skill>/<rev>.json`) are read as
  // the first entries of each skill's sequence (domain/changelog.ts readLog), and the first entry
  // written after them numbers on from there; the watch objects and the heads are new keys.
  1: async () => {},
};

export async function readLayout(blobs: BlobStore): Promise<LayoutFound> {
  let marker: LayoutMarker | null;
  try {
    marker = await readJson<LayoutMarker>(blobs, Remote.layoutMarker, isMarker);
  } catch (err) {
    if (!isMalformed(err)) throw err;
    throw new SnappyError(`${blobs.url} ${Remote.layoutMarker} is not a layout marker ({"layout": <n>}): restore it; snappy does not guess the layout of a remote`, { code: ErrorCode.Version, details: { key: Remote.layoutMarker } });
  }
  return { layout: marker?.layout ?? 1, marker };
}

/**
 * Checks the remote's layout before work on it: a layout newer than this release knows is
 * refused (E_VERSION), since its keys may mean something else now. With `write` (the tick, the
 * remote's one maintainer), an older layout is migrated step by step and a remote without a
 * marker gets one. Returns the layout the remote has afterwards.
 */
export async function checkLayout(blobs: BlobStore, opts: { write: boolean; now?: number }): Promise<LayoutFound> {
  const found = await readLayout(blobs);
  if (found.layout > LAYOUT) {
    throw new SnappyError(
      `${blobs.url} is laid out as layout ${found.layout} (by snappy ${found.marker?.release ?? 'newer'}); this snappy (${RELEASE}) knows layouts up to ${LAYOUT}: upgrade it (docs/operate.md "Upgrade")`,
      { code: ErrorCode.Version, details: { found: found.layout, known: LAYOUT } },
    );
  }
  if (!opts.write || (found.marker && found.layout === LAYOUT)) return found;
  for (let v = found.layout; v < LAYOUT; v++) {
    const step = MIGRATIONS[v];
    if (!step) throw new SnappyError(`no migration from layout ${v} to ${v + 1} in snappy ${RELEASE}`, { code: ErrorCode.Version });
    await step(blobs);
  }
  const marker: LayoutMarker = { layout: LAYOUT, release: RELEASE, since: new Date(opts.now ?? Date.now()).toISOString() };
  if (found.marker) await blobs.put(Remote.layoutMarker, JSON.stringify(marker), { contentType: 'application/json' });
  // Two first ticks at once: one marker wins, the same version either way.
  else await blobs.put(Remote.layoutMarker, JSON.stringify(marker), { ifAbsent: true, contentType: 'application/json' });
  return { layout: LAYOUT, marker };
}
