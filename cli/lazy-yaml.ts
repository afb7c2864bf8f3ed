import type * as Yaml from 'yaml';
import { chunkLoader } from './lazy-chunk.ts';

/**
 * In the built package, domain/frontmatter.ts's `yaml` is this: the package itself, loaded
 * from dist/chunks/yaml.cjs when a page is first read or written (a regen, a staged rev's
 * review), not on every run. The sources, the tests through tsx and the Worker import it as
 * usual.
 */
const load = chunkLoader<typeof Yaml>('./yaml.cjs');

export const isMap = ((node: unknown) => load().isMap(node)) as typeof Yaml.isMap;
export const parseDocument = ((...args: Parameters<typeof Yaml.parseDocument>) => load().parseDocument(...args)) as typeof Yaml.parseDocument;
export const stringify = ((...args: Parameters<typeof Yaml.stringify>) => load().stringify(...args)) as typeof Yaml.stringify;
