// Modules that worker/build.mjs provides at bundle time.
declare module 'snappy:worker-config' {
  const config: import('../core/config.ts').SnappyConfig;
  export default config;
}
declare module 'snappy:s3-blob-store' {
  export class S3BlobStore {
    constructor(opts: Record<string, unknown>);
  }
}
declare module 'snappy:worker-plugins' {
  /** The modules of the config's plugins named by specifier that run in the Worker, by index in `plugins`. */
  const modules: Readonly<Record<number, unknown>>;
  export default modules;
}
