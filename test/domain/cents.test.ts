import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cents as reference } from '../plugins/aggregate/reference.ts';
import { roundCents } from '../../domain/cents.ts';
import { propertyParams } from '../helpers/seed.ts';

const params = propertyParams('domain/cents', 0x5eed_1002);

test('contract rounding (docs/contract.md §6): decimal, not binary; 0 stays 0; sub-cent rounds up to 1; else half up', () => {
  const usd: [number, number][] = [
    [0, 0],
    [0.015, 2], // 1.5 cents (0.015 * 100 is 1.4999999999999998 in binary)
    [0.005, 1], // 0.5 cents: below 1, above 0
    [0.0001, 1],
    [1e-9, 1],
    [0.014, 1], // 1.4 cents
    [0.025, 3],
    [0.285, 29], // 28.5 (binary 28.499999999999996)
    [1.005, 101], // 100.5 (binary 100.49999999999999)
    [0.1 + 0.2, 30], // 30.000000000000004 cents: not half, stays 30
    [12.34, 1234],
    [1e6, 1e8],
    [2.5e-3, 1],
  ];
  for (const [v, want] of usd) assert.is(roundCents(v, 2), want, `${v} USD`);
  const cents: [number, number][] = [
    [0, 0],
    [0.2, 1],
    [0.5, 1],
    [0.999, 1],
    [1, 1],
    [1.4999, 1],
    [1.5, 2],
    [2.5, 3],
    [7, 7],
    [1e-7, 1],
    [123456789.5, 123456790],
  ];
  for (const [v, want] of cents) assert.is(roundCents(v, 0), want, `${v} cents`);
});

test('bad costs are refused with the value named', () => {
  for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => roundCents(v, 0), new RegExp(String(v).replace('.', '\\.')));
  assert.throws(() => roundCents(1e300, 2), /too large/);
});

/** Reference: exact decimal arithmetic on BigInt, from the shortest decimal form of the number. */
test('property: roundCents equals exact decimal rounding for cents and dollars', () => {
  const amount = fc.oneof(
    fc.double({ min: 0, max: 1e9, noNaN: true }),
    fc.integer({ min: 0, max: 10_000_000 }).map((n) => n / 1000),
    fc.integer({ min: 0, max: 100_000 }).map((n) => n / 100_000),
  );
  fc.assert(
    fc.property(amount, fc.constantFrom(0 as const, 2 as const), (v, shift) => {
      assert.is(roundCents(v, shift), reference(v, shift), `${v} shift ${shift}`);
    }),
    params(20000),
  );
});

test.run();
