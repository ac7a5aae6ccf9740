// npm run localstack:deploy: the functions' secret, then cdklocal bootstrap and deploy (the import example stack),
// all in the one region and account localstackConfig resolves (docs/localstack.md).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { cdklocalCommands, ensureDatabaseSecret } from './database-secret';
import { cdklocalEnvironment, clientConfig, localstackConfig } from './env';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

try {
  const config = localstackConfig();
  const secretArn = await ensureDatabaseSecret(new SecretsManagerClient(clientConfig(config)));
  console.error(`localstack: database secret ${secretArn} at ${config.endpoint} (${config.region})`);
  // The real cdklocal of this checkout (aws-cdk-local is a dev dependency), which runs the CDK CLI beside it.
  const cdklocal = createRequire(import.meta.url).resolve('aws-cdk-local/bin/cdklocal');
  const env = cdklocalEnvironment(config);
  for (const args of cdklocalCommands(secretArn)) {
    const { status, error } = spawnSync(process.execPath, [cdklocal, ...args], { cwd: ROOT, env, stdio: 'inherit' });
    if (status !== 0) throw new Error(`cdklocal ${args[0]} ${error ? `failed: ${error.message}` : `exited ${status}`}`);
  }
} catch (error) {
  console.error(`localstack:deploy: ${(error as Error).message}`);
  process.exit(1);
}
