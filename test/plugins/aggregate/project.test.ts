import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Projector } from '../../../plugins/aggregate/project.ts';
import { propertyParams } from '../../helpers/seed.ts';

const params = propertyParams('aggregate/project', 0x5eed_1006);

test('property: the cached ISO formatter writes what new Date(ts).toISOString() writes', () => {
  const p = new Projector('k', '0123456789ab');
  const ts = fc.oneof(
    fc.integer({ min: -8.64e15, max: 8.64e15 }),
    fc.double({ min: -1e13, max: 3e14, noNaN: true }),
    fc.integer({ min: 253402300799000, max: 253402300801000 }), // around year 10000
    fc.integer({ min: -2000, max: 2000 }),
  );
  fc.assert(fc.property(fc.array(ts, { maxLength: 20 }), (list) => list.forEach((t) => assert.is(p.iso(t), new Date(t).toISOString(), String(t)))), params(3000));
});

test.run();
