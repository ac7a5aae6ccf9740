import { InvalidInputError } from '../core/errors';

/**
 * The only place the LocalStack scripts read process.env. Everything the scripts and the cdklocal they start use
 * (endpoints, region, credentials) is resolved here once, so the secret, the stack and the executions all live in
 * one region and one account.
 */
export type Environment = Readonly<Record<string, string | undefined>>;

export interface LocalstackConfig {
  /** AWS_ENDPOINT_URL: every service but S3. */
  readonly endpoint: string;
  /** AWS_ENDPOINT_URL_S3: cdklocal 3.x (with CDK CLI >= 2.177) refuses AWS_ENDPOINT_URL without it. */
  readonly s3Endpoint: string;
  /** AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1 (cdklocal's default). */
  readonly region: string;
  /** AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, else test/test (cdklocal's defaults; LocalStack's account 000000000000). */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** LocalStack's domain: it and every subdomain resolve to 127.0.0.1 (so s3.<it> works for S3). */
const LOCALSTACK_DOMAIN = 'localhost.localstack.cloud';
const EXPORTS = 'export AWS_ENDPOINT_URL=http://localhost.localstack.cloud:4566 AWS_ENDPOINT_URL_S3=http://s3.localhost.localstack.cloud:4566 AWS_REGION=us-east-1 (see docs/localstack.md)';
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** The variables cdklocal would otherwise strip from the CDK CLI's environment (aws-cdk-local bin/cdklocal). */
const KEPT_FOR_CDKLOCAL = ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

/** Resolves and checks the environment before any work: a missing or unusable setting names the variable. */
export function localstackConfig(env: Environment = process.env): LocalstackConfig {
  const endpoint = env.AWS_ENDPOINT_URL || undefined;
  if (!endpoint) throw new InvalidInputError('AWS_ENDPOINT_URL', `is not set: ${EXPORTS}, so nothing reaches real AWS`);
  const url = parseEndpoint('AWS_ENDPOINT_URL', endpoint);
  const s3Endpoint = env.AWS_ENDPOINT_URL_S3 || deriveS3Endpoint(url);
  parseEndpoint('AWS_ENDPOINT_URL_S3', s3Endpoint);
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  if (!REGION.test(region)) throw new InvalidInputError(env.AWS_REGION ? 'AWS_REGION' : 'AWS_DEFAULT_REGION', `must be a region name like us-east-1; got ${JSON.stringify(region)}`);
  return {
    endpoint,
    s3Endpoint,
    region,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID || 'test', secretAccessKey: env.AWS_SECRET_ACCESS_KEY || 'test' },
  };
}

/** The SDK clients' configuration: the same region and credentials cdklocal is given (endpoints come from AWS_ENDPOINT_URL). */
export function clientConfig(config: LocalstackConfig): { region: string; credentials: LocalstackConfig['credentials'] } {
  return { region: config.region, credentials: config.credentials };
}

/**
 * The environment for cdklocal: both endpoints, and the region and credentials allow-listed (AWS_ENVAR_ALLOWLIST),
 * since cdklocal 3.x otherwise deletes every AWS_* variable but the endpoints and falls back to us-east-1 and test.
 */
export function cdklocalEnvironment(config: LocalstackConfig, env: Environment = process.env): Record<string, string> {
  const allowList = new Set((env.AWS_ENVAR_ALLOWLIST ?? '').split(',').map((key) => key.trim()).filter(Boolean));
  for (const key of KEPT_FOR_CDKLOCAL) allowList.add(key);
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) kept[key] = value;
  return {
    ...kept,
    AWS_ENDPOINT_URL: config.endpoint,
    AWS_ENDPOINT_URL_S3: config.s3Endpoint,
    AWS_REGION: config.region,
    AWS_DEFAULT_REGION: config.region,
    AWS_ACCESS_KEY_ID: config.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: config.credentials.secretAccessKey,
    AWS_ENVAR_ALLOWLIST: [...allowList].join(','),
  };
}

function parseEndpoint(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidInputError(name, `must be an http(s) URL like http://localhost.localstack.cloud:4566; got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidInputError(name, `must be an http(s) URL; got ${JSON.stringify(value)}`);
  return url;
}

/**
 * S3 beside AWS_ENDPOINT_URL when that is LocalStack's domain (s3.<domain>, as cdklocal's own default) or an IP
 * address (the SDK addresses buckets by path there); any other host cannot be guessed.
 */
function deriveS3Endpoint(url: URL): string {
  const host = url.hostname;
  const isIp = /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[');
  if (isIp) return url.origin;
  if (host === LOCALSTACK_DOMAIN) return `${url.protocol}//s3.${host}${url.port ? `:${url.port}` : ''}`;
  throw new InvalidInputError('AWS_ENDPOINT_URL_S3', `is not set and cannot be derived from AWS_ENDPOINT_URL's host ${host}: set it to the S3 endpoint with a subdomain-capable host (e.g. http://s3.localhost.localstack.cloud:4566); cdklocal requires it`);
}
