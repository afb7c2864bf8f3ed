import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, SnappyError, messageOf } from '../core/errors.ts';

/**
 * What the shared AWS files (`~/.aws/config`, `~/.aws/credentials`) say about S3 for the
 * profile in use. The SDK reads an endpoint from them itself, but then addresses the bucket as
 * a host name (`<bucket>.<host>`), which S3-compatible servers rarely answer; reading the
 * endpoint here lets the adapter use path style for it, as for an endpoint from the
 * environment or the config. Node only (the Worker has no files).
 */
export interface AwsProfileSettings {
  /** AWS_PROFILE, or `default`. */
  profile: string;
  /** The profile's S3 endpoint: its `services` section's `s3 = endpoint_url`, else its `endpoint_url`. */
  endpoint?: string;
  /** Where the endpoint was read, for messages. */
  endpointFrom?: string;
  region?: string;
  /** The profile's `s3 = addressing_style` (path, virtual or auto). */
  addressingStyle?: string;
  /** `ignore_configured_endpoint_urls = true`: endpoints from the files and the environment are not used. */
  ignoreConfiguredEndpoints: boolean;
}

/** One INI file as section → key → value; `key =` followed by indented lines nests as `key.sub`. */
export type Ini = Map<string, Map<string, string>>;

export function parseIni(text: string): Ini {
  const out: Ini = new Map();
  let section: Map<string, string> | undefined;
  let parent: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*([#;].*)?$/.test(raw)) continue;
    const head = /^\s*\[([^\]]+)\]\s*$/.exec(raw);
    if (head) {
      const name = head[1]!.trim().replace(/\s+/g, ' ');
      section = out.get(name) ?? new Map();
      out.set(name, section);
      parent = undefined;
      continue;
    }
    const kv = /^(\s*)([^=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!kv || !section) continue;
    const [, indent, key, value] = kv as unknown as [string, string, string, string];
    if (indent && parent) section.set(`${parent}.${key}`, value);
    else {
      section.set(key, value);
      parent = value === '' ? key : undefined;
    }
  }
  return out;
}

function readIni(file: string, label: string): Ini | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SnappyError(`cannot read the AWS ${label} file ${file}: ${messageOf(err)}`, { code: ErrorCode.Config, cause: err });
  }
  return parseIni(text);
}

/**
 * The S3 settings of the profile in use. A profile named by AWS_PROFILE that neither file has
 * is an error naming it and both files: the SDK would otherwise fail later, at the first
 * request, without saying which profile it looked for.
 */
export function awsProfileSettings(env: Record<string, string | undefined> = process.env): AwsProfileSettings {
  const home = env.HOME || os.homedir();
  const configFile = env.AWS_CONFIG_FILE || path.join(home, '.aws', 'config');
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, '.aws', 'credentials');
  const named = env.AWS_PROFILE || undefined;
  const profile = named ?? 'default';
  const config = readIni(configFile, 'config');
  const credentials = readIni(credentialsFile, 'credentials');
  const section = config?.get(profile === 'default' ? 'default' : `profile ${profile}`) ?? (profile === 'default' ? config?.get('profile default') : undefined);
  if (named && !section && !credentials?.has(profile)) {
    throw new SnappyError(
      `AWS_PROFILE is "${profile}", but no such profile exists: ${configFile} has no [${profile === 'default' ? 'default' : `profile ${profile}`}]${config ? '' : ' (no such file)'} and ${credentialsFile} has no [${profile}]${credentials ? '' : ' (no such file)'}. Fix AWS_PROFILE, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE`,
      { code: ErrorCode.Config, details: { profile, configFile, credentialsFile } },
    );
  }
  const ignore = /^true$/i.test(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? section?.get('ignore_configured_endpoint_urls') ?? '');
  const out: AwsProfileSettings = { profile, ignoreConfiguredEndpoints: ignore };
  const region = section?.get('region');
  if (region) out.region = region;
  const style = section?.get('s3.addressing_style');
  if (style) out.addressingStyle = style;
  const servicesName = section?.get('services');
  const fromServices = servicesName ? config?.get(`services ${servicesName}`)?.get('s3.endpoint_url') : undefined;
  const label = `${configFile} [${profile === 'default' ? 'default' : `profile ${profile}`}]`;
  if (fromServices) {
    out.endpoint = fromServices;
    out.endpointFrom = `${configFile} [services ${servicesName}] s3 endpoint_url`;
  } else if (section?.get('endpoint_url')) {
    out.endpoint = section.get('endpoint_url')!;
    out.endpointFrom = `${label} endpoint_url`;
  }
  return out;
}
