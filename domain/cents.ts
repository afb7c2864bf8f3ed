/**
 * Cost rounding of the aggregate schema, done on decimal digits (never binary floating point):
 * cents = `cost_usd_cents`, else `cost_usd` x 100; 0 stays 0; above 0 and below 1 rounds up to
 * 1; otherwise round half up. 0.015 USD is 1.5 cents and becomes 2.
 */
export function roundCents(value: number, shiftDecimals: 0 | 2): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`cost must be a finite number >= 0, got ${value}`);
  if (value === 0) return 0;
  // The shortest round-trip decimal form of the number: what the user wrote, for any sane input.
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(String(value));
  if (!m) throw new RangeError(`cannot read ${value} as a decimal`);
  const digits = m[1]! + (m[2] ?? '');
  // Position of the decimal point within `digits`, after the shift.
  const point = m[1]!.length + Number(m[3] ?? 0) + shiftDecimals;
  let intPart: string;
  let fracFirst: number;
  let fracRest: boolean;
  if (point <= 0) {
    intPart = '0';
    fracFirst = point === 0 ? Number(digits[0]) : 0;
    fracRest = /[1-9]/.test(point === 0 ? digits.slice(1) : digits);
  } else if (point >= digits.length) {
    intPart = digits + '0'.repeat(point - digits.length);
    fracFirst = 0;
    fracRest = false;
  } else {
    intPart = digits.slice(0, point);
    fracFirst = Number(digits[point]);
    fracRest = /[1-9]/.test(digits.slice(point + 1));
  }
  let cents = Number(intPart);
  if (fracFirst >= 5) cents += 1;
  if (cents === 0 && (fracFirst > 0 || fracRest)) cents = 1;
  if (!Number.isSafeInteger(cents)) throw new RangeError(`cost ${value} is too large`);
  return cents;
}
