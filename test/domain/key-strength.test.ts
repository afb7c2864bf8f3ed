import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { keyStrength, MIN_KEY_BITS, weakKeyMessage } from '../../domain/key-strength.ts';

test('strength is length x log2 of the smallest alphabet that holds the key', () => {
  assert.equal(keyStrength('deadBEEF'), { length: 8, alphabet: 'hex', bits: 32, strong: false });
  assert.equal(keyStrength('demo-key'), { length: 8, alphabet: 'base64url', bits: 48, strong: false });
  const p = keyStrength('pass word!');
  assert.is(p.alphabet, 'printable ASCII');
  assert.ok(Math.abs(p.bits - 10 * Math.log2(95)) < 1e-9);
  assert.is(keyStrength('').bits, 0);
  assert.is(keyStrength('clé-secrète').alphabet, 'printable ASCII', 'characters beyond ASCII count as printable ASCII');
  assert.is(keyStrength('😀😀').length, 2, 'length counts code points');
});

test('the 128-bit line: 32 hex, 22 base64url or 20 printable characters', () => {
  assert.is(MIN_KEY_BITS, 128);
  assert.ok(keyStrength('a'.repeat(32)).strong);
  assert.not.ok(keyStrength('a'.repeat(31)).strong);
  assert.ok(keyStrength('g'.repeat(22)).strong);
  assert.not.ok(keyStrength('g'.repeat(21)).strong);
  assert.ok(keyStrength('!'.repeat(20)).strong);
  assert.not.ok(keyStrength('!'.repeat(19)).strong);
});

test('the keys the README suggests are strong; the old demo-key and a passphrase are not', () => {
  for (let i = 0; i < 50; i++) {
    assert.ok(keyStrength(randomBytes(32).toString('base64url')).strong);
    assert.ok(keyStrength(randomBytes(32).toString('base64')).strong, 'openssl rand -base64 32');
    assert.ok(keyStrength(randomBytes(16).toString('hex')).strong);
  }
  for (const weak of ['demo-key', 'tenant-A-secret', 'correct horse', 'master-key-of-acme']) assert.not.ok(keyStrength(weak).strong, weak);
});

test('property: strength grows with length and never shrinks when a character from a larger alphabet is added', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), fc.string({ minLength: 1, maxLength: 5 }), (a, b) => {
      const s = keyStrength(a);
      const t = keyStrength(a + b);
      assert.ok(t.bits >= s.bits, `${JSON.stringify(a)} -> ${JSON.stringify(a + b)}`);
      assert.is(s.strong, s.bits >= MIN_KEY_BITS);
    }),
    { numRuns: 2000 },
  );
});

test('the warning names the measure, why it matters and how to make a strong key', () => {
  const msg = weakKeyMessage(keyStrength('demo-key'));
  assert.match(msg, '8 characters of base64url carry at most 48 bits, fewer than 128');
  assert.match(msg, 'guessed offline');
  assert.match(msg, 'openssl rand -base64 32');
  assert.match(msg, "randomBytes(32).toString('base64url')");
});

test.run();
