import { CreateSecretCommand, PutSecretValueCommand, ResourceExistsException, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LOCALSTACK } from './settings';

/** Creates the functions' database secret (or updates its value) and returns its complete ARN. */
export async function ensureDatabaseSecret(client: SecretsManagerClient): Promise<string> {
  const SecretString = JSON.stringify(LOCALSTACK.secret);
  try {
    const created = await client.send(new CreateSecretCommand({ Name: LOCALSTACK.secretName, SecretString, Description: 'adaptive-backfill on LocalStack: the compose Postgres' }));
    return created.ARN!;
  } catch (error) {
    if (!(error instanceof ResourceExistsException)) throw error;
    const updated = await client.send(new PutSecretValueCommand({ SecretId: LOCALSTACK.secretName, SecretString }));
    return updated.ARN!;
  }
}

/**
 * The cdklocal commands that deploy the import example stack against that secret, without the CloudWatch dashboard
 * (LocalStack has no CloudFormation provider for it; docs/localstack.md).
 */
export function cdklocalCommands(secretArn: string): string[][] {
  const context = ['-c', `databaseSecretArn=${secretArn}`, '-c', 'dashboard=false'];
  return [
    ['bootstrap', ...context],
    ['deploy', LOCALSTACK.stackName, ...context, '--require-approval', 'never'],
  ];
}
