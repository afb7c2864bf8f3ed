// Module hooks registered by uvu-report.mjs: adds five calls into uvu's runner (pinned at
// 0.5.6) so each test process can report exactly what ran. If uvu's source no longer holds
// a spot, loading fails loudly instead of counting wrongly.
const PATCHES = [
  ['function setup(ctx, name = \'\') {', (s) => `${s} globalThis.__snappyUvu.setup(ctx);`],
  ['test.run = () => {', (s) => `${s} globalThis.__snappyUvu.queued(ctx, name);`],
  // uvu's runner has no catch: a throwing `before` hook vanishes in its `finally`'s return.
  ['\t} finally {', () => '\t} catch (err) { globalThis.__snappyUvu.hookError(name, err, state.__test__); } finally {'],
  // uvu's formatter throws on an error whose `details` is not a string (AWS SDK errors), and
  // that throw ends the suite silently: report such errors plainly instead.
  ['errors += format(test.name, err, name);', () => 'errors += globalThis.__snappyUvu.format(format, test.name, err, name);'],
  ['return [errors || true, num, skipped, total];', (s) => `globalThis.__snappyUvu.finished(name, num, total, skipped, only.length); ${s}`],
];

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!/[\\/]node_modules[\\/]uvu[\\/]dist[\\/]index\.mjs$/.test(url)) return result;
  let source = typeof result.source === 'string' ? result.source : new TextDecoder().decode(result.source);
  for (const [spot, patch] of PATCHES) {
    if (!source.includes(spot)) throw new Error(`test/run/uvu-hooks.mjs: uvu's runner changed (cannot find ${JSON.stringify(spot)} in ${url}); update the hooks before trusting any count`);
    source = source.replace(spot, patch(spot));
  }
  return { ...result, source: `globalThis.__snappyUvu.loaded();\n${source}` };
}
