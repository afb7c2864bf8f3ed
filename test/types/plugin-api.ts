// Type tests, checked by `npm run typecheck` (never run): each `@ts-expect-error` must stay an
// error, so the API cannot loosen without this file failing to compile.
import { AsyncSeriesHook, definePlugin, z, type RunContext, type ServiceMap, type SnappyHooks } from 'snappy-os';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_: T): void => {};

// A third-party hook and service, declared by augmenting the package by name as README "Writing a
// plugin" shows (tsconfig.json's `paths` points 'snappy-os' at core/index.ts in the repo).
declare module 'snappy-os' {
  interface SnappyHooks {
    onTypedThing: AsyncSeriesHook<[RunContext, { size: number }]>;
  }
  interface ServiceMap {
    typedCounter: { add(n: number): number };
  }
}

definePlugin({
  name: 'typed',
  options: z.object({ every: z.number().default(5), label: z.string().optional() }).strict(),
  apply(hooks, ctx) {
    // Options are inferred from the schema, defaults applied.
    expectType<Equal<typeof ctx.options, { every: number; label?: string | undefined }>>(true);
    // @ts-expect-error: not an option
    void ctx.options.missing;

    // Built-in hooks: the run context comes first.
    hooks.afterEval.tap('typed', (run, ev) => {
      expectType<Equal<typeof run, RunContext>>(true);
      expectType<Equal<typeof ev.score, number>>(true);
    });
    // @ts-expect-error: afterEval taps take (run, event), not an event alone
    hooks.afterEval.tap('typed', (ev: { score: number }) => ev.score);

    // A declared hook is typed by the augmentation, for the declarer and for every tapper.
    const mine = ctx.defineHook('onTypedThing', { hook: new AsyncSeriesHook(['run', 'thing']), failure: 'stop' });
    expectType<Equal<typeof mine, SnappyHooks['onTypedThing']>>(true);
    hooks.onTypedThing.tapPromise('typed', async (_run, thing) => {
      expectType<Equal<typeof thing, { size: number }>>(true);
    });
    // @ts-expect-error: built-in hooks cannot be declared again
    ctx.defineHook('afterEval', { hook: new AsyncSeriesHook(['run', 'event']), failure: 'stop' });
    // @ts-expect-error: the failure policy is 'stop' or 'observe'
    ctx.defineHook('onTypedThing', { hook: new AsyncSeriesHook(['run', 'thing']), failure: 'sometimes' });
    // @ts-expect-error: only declared (augmented) hook names
    ctx.defineHook('onUndeclared', { hook: new AsyncSeriesHook(['run']), failure: 'stop' });

    // Services are typed by the ServiceMap.
    ctx.provide('typedCounter', { add: (n) => n + 1 });
    expectType<Equal<ReturnType<typeof ctx.use<'typedCounter'>>, ServiceMap['typedCounter']>>(true);
    expectType<Equal<ReturnType<typeof ctx.find<'aggregate'>>, ServiceMap['aggregate'] | undefined>>(true);
    // @ts-expect-error: a service must match its declared type
    ctx.provide('typedCounter', { add: (n: string) => n });
    // @ts-expect-error: unknown service keys are refused
    ctx.use('noSuchService');
  },
});

// @ts-expect-error: a plugin needs a name
definePlugin({ apply() {} });
