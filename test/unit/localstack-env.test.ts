import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cdklocalEnvironment, clientConfig, localstackConfig } from '../../localstack/env';

const DOCUMENTED = {
  AWS_ENDPOINT_URL: 'http://localhost.localstack.cloud:4566',
  AWS_ENDPOINT_URL_S3: 'http://s3.localhost.localstack.cloud:4566',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
};

function errorOf(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('LocalStack environment: one region, one account, both endpoints', () => {
  it('resolves the documented exports, and hands cdklocal the same region and credentials through AWS_ENVAR_ALLOWLIST', () => {
    // Prepare: a region other than cdklocal's default, and an allow-list the user had already
    const env = { ...DOCUMENTED, AWS_REGION: 'eu-central-1', AWS_ENVAR_ALLOWLIST: 'AWS_PROFILE', AWS_PROFILE: 'dev', PATH: '/bin' };
    // Act
    const config = localstackConfig(env);
    const child = cdklocalEnvironment(config, env);
    // Assess
    assert.deepStrictEqual(config, { endpoint: DOCUMENTED.AWS_ENDPOINT_URL, s3Endpoint: DOCUMENTED.AWS_ENDPOINT_URL_S3, region: 'eu-central-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    assert.deepStrictEqual(clientConfig(config), { region: 'eu-central-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    assert.deepStrictEqual(child, {
      ...env,
      AWS_DEFAULT_REGION: 'eu-central-1',
      AWS_ENVAR_ALLOWLIST: 'AWS_PROFILE,AWS_REGION,AWS_DEFAULT_REGION,AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY',
    });
  });

  it('takes the region from AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1 (cdklocal\'s default), and test credentials by default', () => {
    // Prepare
    const base = { AWS_ENDPOINT_URL: DOCUMENTED.AWS_ENDPOINT_URL };
    // Act
    const regions = [
      localstackConfig({ ...base, AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'ap-south-1' }),
      localstackConfig({ ...base, AWS_DEFAULT_REGION: 'ap-south-1' }),
      localstackConfig(base),
    ].map((c) => [c.region, c.credentials.accessKeyId, c.credentials.secretAccessKey]);
    // Assess
    assert.deepStrictEqual(regions, [['eu-west-1', 'test', 'test'], ['ap-south-1', 'test', 'test'], ['us-east-1', 'test', 'test']]);
  });

  it('derives AWS_ENDPOINT_URL_S3 when it is not set: s3. on LocalStack\'s domain, the same URL on an IP address', () => {
    // Act
    const derived = ['http://localhost.localstack.cloud:4566', 'https://localhost.localstack.cloud', 'http://127.0.0.1:4566', 'http://127.0.0.1:4566/'].map((endpoint) => localstackConfig({ AWS_ENDPOINT_URL: endpoint }).s3Endpoint);
    // Assess
    assert.deepStrictEqual(derived, ['http://s3.localhost.localstack.cloud:4566', 'https://s3.localhost.localstack.cloud', 'http://127.0.0.1:4566', 'http://127.0.0.1:4566']);
  });

  it('names the variable and what is allowed, before any work, for every setting it cannot use', () => {
    // Act
    const errors = [
      errorOf(() => localstackConfig({})),
      errorOf(() => localstackConfig({ AWS_ENDPOINT_URL: 'localhost:4566' })),
      errorOf(() => localstackConfig({ AWS_ENDPOINT_URL: 'ftp://localhost.localstack.cloud' })),
      errorOf(() => localstackConfig({ AWS_ENDPOINT_URL: 'http://docker-host:4566' })),
      errorOf(() => localstackConfig({ AWS_ENDPOINT_URL: 'http://docker-host:4566', AWS_ENDPOINT_URL_S3: 's3' })),
      errorOf(() => localstackConfig({ ...DOCUMENTED, AWS_REGION: 'Frankfurt' })),
      errorOf(() => localstackConfig({ AWS_ENDPOINT_URL: DOCUMENTED.AWS_ENDPOINT_URL, AWS_DEFAULT_REGION: 'eu central 1' })),
    ];
    // Assess
    assert.deepStrictEqual(errors, [
      'AWS_ENDPOINT_URL: is not set: export AWS_ENDPOINT_URL=http://localhost.localstack.cloud:4566 AWS_ENDPOINT_URL_S3=http://s3.localhost.localstack.cloud:4566 AWS_REGION=us-east-1 (see docs/localstack.md), so nothing reaches real AWS',
      'AWS_ENDPOINT_URL: must be an http(s) URL; got "localhost:4566"',
      'AWS_ENDPOINT_URL: must be an http(s) URL; got "ftp://localhost.localstack.cloud"',
      'AWS_ENDPOINT_URL_S3: is not set and cannot be derived from AWS_ENDPOINT_URL\'s host docker-host: set it to the S3 endpoint with a subdomain-capable host (e.g. http://s3.localhost.localstack.cloud:4566); cdklocal requires it',
      'AWS_ENDPOINT_URL_S3: must be an http(s) URL like http://localhost.localstack.cloud:4566; got "s3"',
      'AWS_REGION: must be a region name like us-east-1; got "Frankfurt"',
      'AWS_DEFAULT_REGION: must be a region name like us-east-1; got "eu central 1"',
    ]);
  });
});
