import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { S3BlobStore } from '../../adapters/s3-blob-store.ts';
import { startS3rver, type S3Server } from '../helpers/s3rver.ts';
import { blobStoreContract } from './blob-store-contract.ts';

let srv: S3Server;
let store: S3BlobStore;
const make = (extra: Partial<ConstructorParameters<typeof S3BlobStore>[0]> = {}) =>
  new S3BlobStore({ bucket: 'snappy', prefix: 'pre/fix', endpoint: srv.endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', ...extra });

test.before(async () => {
  srv = await startS3rver(['snappy']);
  store = make();
});
test.after(async () => {
  store?.destroy();
  await srv?.stop();
});

blobStoreContract(test, () => store, 'ns');

test('the prefix scopes every key: objects land under it and list strips it', async () => {
  await store.put('scoped/k', 'x');
  const bare = make({ prefix: '' });
  assert.is(new TextDecoder().decode((await bare.get('pre/fix/scoped/k'))!), 'x');
  const keys = [];
  for await (const o of store.list('scoped/')) keys.push(o.key);
  assert.equal(keys, ['scoped/k']);
  assert.is(store.url, 's3://snappy/pre/fix');
  bare.destroy();
});

test('list pages through more keys than one page holds, in order, with startAfter', async () => {
  const paged = make({ pageSize: 7 });
  const keys = Array.from({ length: 45 }, (_, i) => `page/${String(i).padStart(3, '0')}`);
  for (const k of keys) await paged.put(k, k);
  const seen = [];
  for await (const o of paged.list('page/')) seen.push(o.key);
  assert.equal(seen, keys);
  const after = [];
  for await (const o of paged.list('page/', { startAfter: 'page/030' })) after.push(o.key);
  assert.equal(after, keys.slice(31));
  paged.destroy();
});

test('endpoint, region and keys come from the AWS_* variables when not given', async () => {
  const fromEnv = new S3BlobStore({
    bucket: 'snappy',
    env: { AWS_ENDPOINT_URL_S3: srv.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
  });
  assert.is(await fromEnv.put('env/k', 'v'), true);
  assert.is(new TextDecoder().decode((await fromEnv.get('env/k'))!), 'v');
  fromEnv.destroy();
});

test('an invalid bucket name is refused with a clear message', () => {
  assert.throws(() => new S3BlobStore({ bucket: 'Bad_Bucket' }), /bucket name "Bad_Bucket" is invalid/);
});

test('a missing bucket is an error naming the operation and key, not an empty read', async () => {
  const other = make({ bucket: 'no-such-bucket' });
  const err = await other.get('k/x').then(() => null, (e: Error) => e);
  assert.ok(err, 'get on a missing bucket resolved');
  assert.match(err!.message, /S3 get of "k\/x" in s3:\/\/no-such-bucket/);
  other.destroy();
});

test('with the server down, every error names the operation and the object key', async () => {
  await srv.kill();
  try {
    const down = make({ maxAttempts: 1 });
    const err = await down.put('down/obj.md', 'x').then(() => null, (e: Error & { code?: string }) => e);
    assert.ok(err, 'put with the server down resolved');
    assert.match(err!.message, /S3 put of "down\/obj\.md" in s3:\/\/snappy\/pre\/fix failed/);
    assert.is((err as { code?: string }).code, 'E_REMOTE');
    const gerr = await down.get('down/other.md').then(() => null, (e: Error) => e);
    assert.match(gerr!.message, /S3 get of "down\/other\.md"/);
    down.destroy();
  } finally {
    await srv.start();
  }
  assert.is(await store.put('after/restart', 'ok'), true);
});

test.run();
