// npm run localstack:start: finds the deployed stack, fills demo_items in the compose Postgres, then starts one
// execution through the SDK and follows the run across continue-as-new to its end (docs/localstack.md).
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SFNClient } from '@aws-sdk/client-sfn';
import { resolveDeployment } from '../cli/deployment';
import { asQueryable, makePool } from '../db/pool';
import { createDemoTable } from '../jobs/demo-table';
import { clientConfig, localstackConfig } from './env';
import { LOCALSTACK } from './settings';
import { startAndFollow } from './start-execution';

try {
  const config = localstackConfig();
  // The stack first: nothing is written to Postgres when it is not deployed (or not in this region).
  const { stateMachineArn } = await resolveDeployment({ stack: LOCALSTACK.stackName }, ['stateMachineArn'], () => new CloudFormationClient(clientConfig(config)));
  const pool = makePool({ connectionString: LOCALSTACK.hostDatabaseUrl });
  try {
    await createDemoTable(asQueryable(pool), LOCALSTACK.demoRows);
  } finally {
    await pool.end();
  }
  const name = `localstack-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  console.error(`localstack: demo_items has ${LOCALSTACK.demoRows} rows; starting ${name} on ${stateMachineArn} (${config.region})`);
  const result = await startAndFollow(new SFNClient(clientConfig(config)), stateMachineArn!, name, { job: 'demo-lowercase-email' }, {
    onExecution: (arn) => console.error(`localstack: following ${arn}`),
  });
  console.log(JSON.stringify(result, null, 2));
  process.exit(result.status === 'SUCCEEDED' ? 0 : 1);
} catch (error) {
  console.error(`localstack:start: ${(error as Error).message}`);
  process.exit(1);
}
