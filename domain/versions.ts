/**
 * The versions snappy carries, and the rules between them (docs/operate.md "Upgrade").
 *
 * - The **protocol** is what a client and the Worker say to each other over HTTP. Each side
 *   names its own in every request or answer (`x-snappy-protocol`), and each refuses a peer
 *   older than its own minimum; anything in between works, because a release keeps speaking
 *   every protocol from its minimum up. A peer that names none is protocol 1 (the releases
 *   before protocols were named).
 * - The **layout** is the meaning of the keys in the shared bucket. It is written once, in
 *   `snappy-meta/layout.json`; it changes only when an existing key changes meaning or format
 *   (new keys do not change it). A writer refuses a remote laid out by a newer release; an
 *   older layout is migrated by the first tick of the newer one. A remote without the marker
 *   is layout 1.
 * - The **state** is the format of a machine's state dir, in `.snappy/state.json`. A newer
 *   release migrates an older state dir on its first run that writes it; an older release
 *   refuses a newer one. A state dir without the marker is state 1.
 */

/** This release (kept equal to package.json's version by a test: the Worker cannot read it). */
export const RELEASE = '0.1.0';

/** The protocol this release speaks. 2: named protocols, `/v1/version`, `/v1/whoami`, key rotation, alerts. */
export const PROTOCOL = 2;
/** The oldest Worker protocol this client works with. */
export const MIN_WORKER_PROTOCOL = 1;
/** The oldest client protocol a Worker serves, unless its operator raises it (SNAPPY_MIN_CLIENT_PROTOCOL). */
export const MIN_CLIENT_PROTOCOL = 1;
/** What a peer that names no protocol speaks. */
export const UNNAMED_PROTOCOL = 1;

/**
 * The remote layout this release reads and writes. 2: the changelog is a per-skill sequence
 * (`snappy-os/changelog/<skill>/<seq8>.json` with a head in `snappy-os/changelog-head/`), where
 * layout 1 had one row per promoted rev (`<rev>.json`): a layout-1 release would not see a
 * promotion or rollback recorded as an entry, so it must not write to such a remote.
 */
export const LAYOUT = 2;
/** The state dir format this release reads and writes. 2: `.snappy/state.json` (version and the tenant that wrote the state). */
export const STATE = 2;

/** Request and answer header: the sender's protocol. */
export const HEADER_PROTOCOL = 'x-snappy-protocol';
/** Request header: the client's release, `snappy/<version>`. */
export const HEADER_CLIENT = 'x-snappy-client';
/** Answer header: the Worker's release. */
export const HEADER_WORKER = 'x-snappy-worker';

/** `snappy/<release>`, as a client names itself. */
export const CLIENT_NAME = `snappy/${RELEASE}`;

/**
 * The protocol a header names: a positive integer, or `UNNAMED_PROTOCOL` when there is none.
 * Null when the header is there but is no protocol (a refusal names it).
 */
export function protocolOf(header: string | null | undefined): number | null {
  if (header === null || header === undefined || header === '') return UNNAMED_PROTOCOL;
  if (!/^[1-9][0-9]{0,5}$/.test(header.trim())) return null;
  return Number(header.trim());
}

/** True when a peer speaking `theirs` is older than a side's minimum `min`: that side refuses it. */
export function tooOld(theirs: number, min: number): boolean {
  return theirs < min;
}

/** The release a client names (`snappy/1.2.3`), or null for anything else (shown as unknown). */
export function releaseOf(header: string | null | undefined): string | null {
  const m = /^snappy\/([0-9A-Za-z.+-]{1,32})$/.exec((header ?? '').trim());
  return m ? m[1]! : null;
}
