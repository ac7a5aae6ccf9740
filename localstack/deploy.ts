// npm run localstack:deploy: the functions' secret, then cdklocal bootstrap and deploy (the import example stack).
import { execFileSync } from 'node:child_process';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { cdklocalCommands, ensureDatabaseSecret } from './database-secret';
import { assertLocalEndpoint } from './env';

const endpoint = assertLocalEndpoint();
const secretArn = await ensureDatabaseSecret(new SecretsManagerClient({}));
console.error(`localstack: database secret ${secretArn} at ${endpoint}`);
for (const args of cdklocalCommands(secretArn)) execFileSync('npx', ['cdklocal', ...args], { stdio: 'inherit' });
