// The source edits `npm run mutate` tries, one at a time. Each is a fault the suite must
// catch: `search` must occur exactly once in `file` (else the entry is stale), `tests` are
// the test-file filters run against the edited copy, `why` says what the edit breaks.
export default [
  {
    id: 'eval-lock-removed',
    file: 'cli/commands/eval.ts',
    search: "const release = await acquireLock(path.join(cli.stateDir, '.snappy', 'lock'), { what: `state dir ${cli.stateDir}` });",
    replace: 'const release = async () => {};',
    tests: ['test/plugins/regen/eval-concurrency'],
    why: 'two `snappy eval` processes ingest the same rows at once: rows counted twice or lost',
  },
  {
    id: 'changelog-not-create-only',
    file: 'plugins/quorum/promote.ts',
    search: '`${JSON.stringify(row)}\\n`, { ifAbsent: true, contentType',
    replace: '`${JSON.stringify(row)}\\n`, { contentType',
    tests: ['test/plugins/quorum/promote-race'],
    why: 'overlapping promotions each store a changelog row and report promoted: true',
  },
  {
    id: 'changelog-check-then-write',
    file: 'plugins/quorum/promote.ts',
    search: 'const promoted = await blobs.put(Remote.changelog(row.skill, row.rev_id), `${JSON.stringify(row)}\\n`, { ifAbsent: true, contentType: \'application/json\' });',
    replace: 'const promoted = !(await blobs.head(Remote.changelog(row.skill, row.rev_id))) && (await blobs.put(Remote.changelog(row.skill, row.rev_id), `${JSON.stringify(row)}\\n`, { contentType: \'application/json\' }));',
    tests: ['test/plugins/quorum/promote-race'],
    why: 'a head-then-put leaves a window in which two callers both see no row and both write one',
  },
  {
    id: 'ingest-signature-without-body-hash',
    file: 'domain/ingest-protocol.ts',
    search: 'return hmacSha256Hex(ingestKey, `${tenant}\\n${timestamp}\\n${await sha256Hex(body)}`);',
    replace: 'return hmacSha256Hex(ingestKey, `${tenant}\\n${timestamp}\\n`);',
    tests: ['test/worker/ingest'],
    why: 'a signed batch can be swapped for another body on its way to the Worker',
  },
];
