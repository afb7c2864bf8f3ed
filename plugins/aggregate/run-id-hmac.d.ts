/** SHA-256 round constants. */
export declare const K: Int32Array;
/** ASCII codes of `0123456789abcdef`. */
export declare const HEX_BYTE: Uint8Array;

/**
 * HMAC-SHA256 truncated to 16 hex chars, with the key's inner and outer SHA-256 states
 * computed once (see run-id-hmac.js).
 */
export declare class RunIdHmac {
  constructor(key: string);
  readonly key: string;
  /** First 16 hex chars of HMAC-SHA256(key, message). */
  hex16(message: string): string;
  /** Writes the 16 hex chars of `hex16(message)` as ASCII bytes at `out[pos]`; returns pos + 16. */
  writeHex16(message: string, out: Uint8Array, pos: number): number;
}

/** One SHA-256 compression of the block in `w[0..16)` into the state `s`. */
export declare function compress(s: Int32Array, w: Int32Array): void;
