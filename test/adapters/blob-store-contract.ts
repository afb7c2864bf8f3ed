import * as assert from 'uvu/assert';
import type { BlobStore } from '../../core/ports.ts';

/** Behaviour every BlobStore must show; each store's test file runs these against a real store. */
export function blobStoreContract(test: (name: string, fn: () => Promise<void>) => void, store: () => BlobStore, ns: string): void {
  const dec = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : null);
  const collect = async (prefix: string, startAfter?: string) => {
    const out: string[] = [];
    for await (const o of store().list(prefix, startAfter !== undefined ? { startAfter } : {})) out.push(o.key);
    return out;
  };

  test('put then get returns the same bytes; a missing key reads as null', async () => {
    const bytes = new Uint8Array([0, 1, 2, 255, 10, 13]);
    assert.is(await store().put(`${ns}/a/bin`, bytes), true);
    assert.equal([...(await store().get(`${ns}/a/bin`))!], [...bytes]);
    assert.is(await store().put(`${ns}/a/text.md`, 'héllo\n'), true);
    assert.is(dec(await store().get(`${ns}/a/text.md`)), 'héllo\n');
    assert.is(await store().get(`${ns}/a/missing`), null);
  });

  test('head gives size and an etag that changes with the content; null when missing', async () => {
    await store().put(`${ns}/h/x`, 'one');
    const h1 = await store().head(`${ns}/h/x`);
    assert.is(h1?.size, 3);
    assert.ok(h1?.etag);
    await store().put(`${ns}/h/x`, 'two!');
    const h2 = await store().head(`${ns}/h/x`);
    assert.is(h2?.size, 4);
    assert.is.not(h2?.etag, h1?.etag);
    assert.is(await store().head(`${ns}/h/none`), null);
  });

  test('create-only put refuses to replace an existing object', async () => {
    assert.is(await store().put(`${ns}/c/once`, 'first', { ifAbsent: true }), true);
    assert.is(await store().put(`${ns}/c/once`, 'second', { ifAbsent: true }), false);
    assert.is(dec(await store().get(`${ns}/c/once`)), 'first');
  });

  test('ifMatch put writes only over the expected version', async () => {
    await store().put(`${ns}/m/k`, 'v1');
    const h = await store().head(`${ns}/m/k`);
    assert.is(await store().put(`${ns}/m/k`, 'v2', { ifMatch: h!.etag! }), true);
    assert.is(await store().put(`${ns}/m/k`, 'v3', { ifMatch: h!.etag! }), false);
    assert.is(dec(await store().get(`${ns}/m/k`)), 'v2');
    assert.is(await store().put(`${ns}/m/absent`, 'x', { ifMatch: h!.etag! }), false);
  });

  test('list returns keys under a prefix in key order, with sizes, and honours startAfter', async () => {
    for (const k of ['l/b', 'l/a', 'l/c/d', 'l/c/e', 'lx/z']) await store().put(`${ns}/${k}`, k);
    assert.equal(await collect(`${ns}/l/`), [`${ns}/l/a`, `${ns}/l/b`, `${ns}/l/c/d`, `${ns}/l/c/e`]);
    assert.equal(await collect(`${ns}/l/`, `${ns}/l/b`), [`${ns}/l/c/d`, `${ns}/l/c/e`]);
    assert.equal(await collect(`${ns}/l`), [`${ns}/l/a`, `${ns}/l/b`, `${ns}/l/c/d`, `${ns}/l/c/e`, `${ns}/lx/z`]);
    const infos = [];
    for await (const o of store().list(`${ns}/l/c/`)) infos.push(o);
    assert.equal(infos.map((o) => o.size), [`l/c/d`.length, `l/c/e`.length]);
    assert.equal(await collect(`${ns}/nothing/`), []);
  });

  test('copy duplicates an object; delete removes it and is quiet when it is gone', async () => {
    await store().put(`${ns}/cp/src`, 'payload');
    await store().copy(`${ns}/cp/src`, `${ns}/cp/dst/inner`);
    assert.is(dec(await store().get(`${ns}/cp/dst/inner`)), 'payload');
    await store().delete(`${ns}/cp/src`);
    assert.is(await store().get(`${ns}/cp/src`), null);
    await store().delete(`${ns}/cp/src`);
  });

  test('unsafe keys are refused before anything is written', async () => {
    for (const bad of ['../x', 'a/../b', '/abs', 'a//b', 'a\\b', '']) {
      const err = await store().put(bad, 'x').then(() => null, (e: Error) => e);
      assert.ok(err && /unsafe object key/.test(err.message), `key ${JSON.stringify(bad)} was accepted`);
    }
  });
}
