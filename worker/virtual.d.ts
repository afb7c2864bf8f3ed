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
