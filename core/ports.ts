import { ErrorCode, SnappyError } from './errors.ts';

/** One object in a blob store. */
export interface BlobInfo {
  key: string;
  size: number;
  /** Opaque version tag (S3/R2 etag, or a content hash for the file store). */
  etag?: string;
}

/** Options for a conditional or annotated write. */
export interface PutOptions {
  /** Write only if no object exists at the key. The store must make this atomic. */
  ifAbsent?: boolean;
  /** Write only if the current object has this etag. */
  ifMatch?: string;
  contentType?: string;
}

/**
 * The shared bucket, as the core sees it. Keys are relative, `/`-separated, never start with
 * `/` and never contain `..` segments: implementations refuse such keys.
 */
export interface BlobStore {
  /** A short description for messages, e.g. `file:///x` or `s3://bucket/prefix`. */
  readonly url: string;
  get(key: string): Promise<Uint8Array | null>;
  /** Returns false (and writes nothing) when a condition in `opts` does not hold. */
  put(key: string, body: Uint8Array | string, opts?: PutOptions): Promise<boolean>;
  head(key: string): Promise<BlobInfo | null>;
  /** Every object whose key starts with `prefix`, in key order; `startAfter` skips keys <= it. */
  list(prefix: string, opts?: { startAfter?: string }): AsyncIterable<BlobInfo>;
  /**
   * True when a listing with `startAfter` starts at that key on the server (R2, S3), so it costs
   * one request per 1,000 keys after it, however many come before; a store that walks every key
   * to skip the early ones (a folder on disk) leaves it unset.
   */
  readonly listsFromKey?: boolean;
  copy(from: string, to: string): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Writes `key` with the server's own conditions only, bypassing any check the client adds
   * (the S3 adapter HEADs first for servers that ignore conditions): how a probe learns whether
   * the server enforces them. Stores without such a check need not offer it.
   */
  putUnchecked?(key: string, body: Uint8Array | string, opts: PutOptions): Promise<boolean>;
}

/** What changed on a remote since a cursor (`RemoteFeatures.changesSince`). */
export interface ChangeSet {
  /** The cursor was empty or unknown: list what you need once, then go on from `cursor`. */
  reset: boolean;
  /** Objects written since the cursor, with their current size and etag. */
  objects: BlobInfo[];
  /** Folders replaced whole (a promotion): their complete listing; anything else under them is gone. */
  folders: { folder: string; objects: BlobInfo[] }[];
  cursor: string;
  /** More changes wait: ask again from `cursor`. */
  more: boolean;
}

/** One file of a rev to stage. */
export interface StageFile {
  name: string;
  bytes: Uint8Array;
}

/**
 * What a remote may offer beyond objects. The Worker offers all of it: a tenant there cannot
 * list or write the bucket freely, so pulls follow its change feed, staged revs go in one
 * checked request each, and aggregate batches go through its ingest. A plain bucket offers
 * none, and sync falls back to listing and writing objects.
 */
/** One page of `RemoteFeatures.aggregateSince`. */
export interface AggregatePage {
  ndjson: string;
  cursor: string;
  more: boolean;
  batches: number;
  segments?: number;
  retentionDays?: number;
  /** Tenants the remote removed: their rows are to leave the local union. */
  removedTenants?: string[];
}

export interface RemoteFeatures {
  changesSince?(cursor: string): Promise<ChangeSet>;
  /** Stages a rev whole; `created` false when exactly these files were already staged. */
  stageRev?(skill: string, rev: string, files: readonly StageFile[]): Promise<{ created: boolean }>;
  /**
   * Aggregate rows stored since the cursor (ndjson), with the next cursor; `segments` are the
   * compacted objects among what was read, `retentionDays` how long the remote keeps rows in
   * the pull set (0: forever; absent: it does not say).
   */
  aggregateSince?(cursor: string): Promise<AggregatePage>;
  /** Ships this machine's aggregate rows, split to fit the remote's limits; resolves once all are stored. */
  shipAggregate?(ndjson: string): Promise<{ batches: string[]; rows: number; requests: number }>;
  /** The fleet's quorum status as this tenant may see it. */
  fleetStatus?(): Promise<Record<string, unknown>>;
  /** Requests made so far, when the remote counts them (the Worker remote does). */
  readonly requests?: number;
}

/** A remote: a blob store, and whatever of `RemoteFeatures` it has. */
export type RemoteStore = BlobStore & RemoteFeatures;

/** Small metadata store (Cloudflare KV in the Worker; files under the remote elsewhere). */
export interface KV {
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
}

/** Time source, so that tests and the Worker control it. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Where messages go. `warn` and `error` reach stderr in the CLI; `info` is hidden by --quiet. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

const BAD_KEY = /(^|\/)\.\.?(\/|$)|^\/|\\|\0/;

/** Throws when `key` could escape its prefix (absolute, `..`, backslashes, NUL, empty). */
export function assertSafeKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024 || BAD_KEY.test(key) || key.includes('//')) {
    throw new SnappyError(`unsafe object key ${JSON.stringify(key)}: keys are relative, without '.', '..', '//', '\\' or NUL`, { code: ErrorCode.Invalid, status: 400 });
  }
}

export function toBytes(body: Uint8Array | string): Uint8Array {
  return typeof body === 'string' ? new TextEncoder().encode(body) : body;
}
