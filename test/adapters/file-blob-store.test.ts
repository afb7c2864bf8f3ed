import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FileBlobStore } from '../../adapters/file-blob-store.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { blobStoreContract } from './blob-store-contract.ts';

const store = new FileBlobStore(tmpDir());
blobStoreContract(test, () => store, 'ns');

test('list gives the same etag as head, so a pull can tell what changed from one listing', async () => {
  await store.put('e/k', 'content');
  const listed = [];
  for await (const o of store.list('e/')) listed.push(o);
  assert.is(listed[0]?.etag, (await store.head('e/k'))?.etag);
});

test('concurrent create-only writers: exactly one wins', async () => {
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('race/k', `w${i}`, { ifAbsent: true })));
  assert.is(results.filter(Boolean).length, 1);
});

test.run();
