/** The demo fleet's master keys, fixed so every run of `npm run demo` yields the same tenant ids and rev ids. */
export const DEMO_KEYS = { acme: 'acme-demo-master-key', globex: 'globex-demo-master-key', initech: 'initech-demo-master-key' } as const;
