/** The only place the LocalStack scripts read process.env. */
export const localstackEnv = {
  /** The SDK reads AWS_ENDPOINT_URL itself; the scripts only check it is there, so they never reach real AWS. */
  endpoint: process.env.AWS_ENDPOINT_URL || undefined,
};

/** Fails before any work when the scripts would talk to real AWS. */
export function assertLocalEndpoint(): string {
  if (!localstackEnv.endpoint) {
    throw new Error('AWS_ENDPOINT_URL is not set: export AWS_ENDPOINT_URL=http://localhost.localstack.cloud:4566 (and AWS_REGION, AWS_ACCESS_KEY_ID=test, AWS_SECRET_ACCESS_KEY=test) so nothing reaches real AWS');
  }
  return localstackEnv.endpoint;
}
