// Plain JavaScript on purpose: the HMAC worker thread (hmac-worker.js) imports this module
// too, and a worker starts without the TypeScript loader the CLI runs under.
import { createHash, createHmac } from 'node:crypto';

export const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** @type {string[]} */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export const HEX_BYTE = new Uint8Array(Array.from('0123456789abcdef', (c) => c.charCodeAt(0)));

/**
 * HMAC-SHA256 truncated to 16 hex chars, with the key's inner and outer SHA-256 states
 * computed once: node:crypto's createHmac redoes the key schedule on every call (~2.7 µs),
 * which dominated a full aggregate build. Messages with non-ASCII characters go through
 * node:crypto (they need UTF-8 encoding anyway); tests check both paths agree with it.
 */
export class RunIdHmac {
  inner = new Int32Array(8);
  outer = new Int32Array(8);
  w = new Int32Array(64);
  s = new Int32Array(8);

  /** @param {string} key */
  constructor(key) {
    /** @readonly */
    this.key = key;
    let k = Buffer.from(key, 'utf8');
    if (k.length > 64) k = createHash('sha256').update(k).digest();
    const block = Buffer.alloc(64);
    k.copy(block);
    const init = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    for (const [state, pad] of /** @type {const} */ ([[this.inner, 0x36], [this.outer, 0x5c]])) {
      state.set(init);
      for (let i = 0; i < 16; i++) {
        this.w[i] = (((block[4 * i] ^ pad) << 24) | ((block[4 * i + 1] ^ pad) << 16) | ((block[4 * i + 2] ^ pad) << 8) | (block[4 * i + 3] ^ pad));
      }
      compress(state, this.w);
    }
  }

  /**
   * First 16 hex chars of HMAC-SHA256(key, message).
   * @param {string} message
   * @returns {string}
   */
  hex16(message) {
    if (!this.digest(message)) return createHmac('sha256', this.key).update(message).digest('hex').slice(0, 16);
    const s = this.s;
    const a = s[0];
    const c = s[1];
    return HEX[(a >>> 24) & 255] + HEX[(a >>> 16) & 255] + HEX[(a >>> 8) & 255] + HEX[a & 255] + HEX[(c >>> 24) & 255] + HEX[(c >>> 16) & 255] + HEX[(c >>> 8) & 255] + HEX[c & 255];
  }

  /**
   * Writes the 16 hex chars of `hex16(message)` as ASCII bytes at `out[pos]`; returns pos + 16.
   * @param {string} message
   * @param {Uint8Array} out
   * @param {number} pos
   * @returns {number}
   */
  writeHex16(message, out, pos) {
    if (!this.digest(message)) {
      const h = this.hex16(message);
      for (let i = 0; i < 16; i++) out[pos + i] = h.charCodeAt(i);
      return pos + 16;
    }
    const s = this.s;
    for (let k = 0; k < 2; k++) {
      const word = s[k];
      for (let j = 0; j < 8; j++) out[pos++] = HEX_BYTE[(word >>> (28 - 4 * j)) & 15];
    }
    return pos;
  }

  /**
   * Leaves the HMAC of an ASCII message in `this.s`; false (nothing done) for non-ASCII.
   * @param {string} message
   * @returns {boolean}
   */
  digest(message) {
    const n = message.length;
    for (let i = 0; i < n; i++) if (message.charCodeAt(i) > 0x7f) return false;
    const s = this.s;
    const w = this.w;
    s.set(this.inner);
    // Inner hash over ipad-block || message: the ipad block is already in `inner`.
    const total = n + 9;
    const blocks = (total + 63) >>> 6;
    for (let b = 0; b < blocks; b++) {
      for (let i = 0; i < 16; i++) {
        let word = 0;
        for (let j = 0; j < 4; j++) {
          const p = b * 64 + i * 4 + j;
          const byte = p < n ? message.charCodeAt(p) : p === n ? 0x80 : 0;
          word = (word << 8) | byte;
        }
        w[i] = word;
      }
      if (b === blocks - 1) {
        const bits = (n + 64) * 8;
        w[14] = Math.floor(bits / 0x100000000);
        w[15] = bits >>> 0;
      }
      compress(s, w);
    }
    // Outer hash over opad-block || inner digest (32 bytes): exactly one more block.
    for (let i = 0; i < 8; i++) w[i] = s[i];
    w[8] = 0x80000000;
    for (let i = 9; i < 15; i++) w[i] = 0;
    w[15] = (64 + 32) * 8;
    s.set(this.outer);
    compress(s, w);
    return true;
  }
}

/**
 * One SHA-256 compression of the block in `w[0..16)` into the state `s`.
 * @param {Int32Array} s
 * @param {Int32Array} w
 */
export function compress(s, w) {
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15];
    const y = w[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
  }
  let a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i] + w[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  s[0] = (s[0] + a) | 0;
  s[1] = (s[1] + b) | 0;
  s[2] = (s[2] + c) | 0;
  s[3] = (s[3] + d) | 0;
  s[4] = (s[4] + e) | 0;
  s[5] = (s[5] + f) | 0;
  s[6] = (s[6] + g) | 0;
  s[7] = (s[7] + h) | 0;
}
