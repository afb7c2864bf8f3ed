/**
 * How hard a master key is to guess. The tenant id (SHA-256 of the key, unsalted) is public in
 * every aggregate row, so anyone can test guesses offline: the key must carry enough entropy
 * on its own. Strength is measured as length x log2 of the smallest of three alphabets that
 * holds every character of the key: an upper bound for a key drawn at random from it, and a
 * generous one for anything a person made up.
 */

/** Below this many bits a key is weak: `snappy ops key` refuses it, every other command warns. */
export const MIN_KEY_BITS = 128;

/** The alphabets a key is measured against, smallest first. */
export const KEY_ALPHABETS = [
  { name: 'hex', size: 16, re: /^[0-9a-fA-F]*$/ },
  { name: 'base64url', size: 64, re: /^[A-Za-z0-9_-]*$/ },
  { name: 'printable ASCII', size: 95, re: /^[\x20-\x7e]*$/ },
] as const;

/** The measure of one key. */
export interface KeyStrength {
  /** Characters (code points). */
  length: number;
  /** The smallest alphabet that holds the key; characters beyond printable ASCII count as printable ASCII. */
  alphabet: (typeof KEY_ALPHABETS)[number]['name'];
  bits: number;
  strong: boolean;
}

export function keyStrength(key: string): KeyStrength {
  const length = [...key].length;
  const a = KEY_ALPHABETS.find((x) => x.re.test(key)) ?? KEY_ALPHABETS[KEY_ALPHABETS.length - 1]!;
  const bits = length * Math.log2(a.size);
  return { length, alphabet: a.name, bits, strong: bits >= MIN_KEY_BITS };
}

/** Commands that make a key of 256 random bits. */
export const STRONG_KEY_HOWTO = `openssl rand -base64 32   or   node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`;

/** One sentence on a weak key: how strong it is, why that matters, how to make a strong one. */
export function weakKeyMessage(s: KeyStrength): string {
  return (
    `SNAPPY_MASTER_KEY is weak: ${s.length} characters of ${s.alphabet} carry at most ${Math.floor(s.bits)} bits, fewer than ${MIN_KEY_BITS}. ` +
    `Its SHA-256 (the tenant id) is public in every aggregate row, so a weak key can be guessed offline. ` +
    `Make a strong key with: ${STRONG_KEY_HOWTO}`
  );
}
