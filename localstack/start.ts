// npm run localstack:start: demo_items in the compose Postgres, then one execution through the SDK, waited for.
import { SFNClient } from '@aws-sdk/client-sfn';
import { resolveDeployment } from '../cli/deployment';
import { asQueryable, makePool } from '../db/pool';
import { createDemoTable } from '../jobs/demo-table';
import { assertLocalEndpoint } from './env';
import { LOCALSTACK } from './settings';
import { startAndWait } from './start-execution';

assertLocalEndpoint();
const pool = makePool({ connectionString: LOCALSTACK.hostDatabaseUrl });
try {
  await createDemoTable(asQueryable(pool), LOCALSTACK.demoRows);
} finally {
  await pool.end();
}
const { stateMachineArn } = await resolveDeployment({ stack: LOCALSTACK.stackName }, ['stateMachineArn']);
const name = `localstack-${new Date().toISOString().replace(/[:.]/g, '-')}`;
console.error(`localstack: demo_items has ${LOCALSTACK.demoRows} rows; starting ${name} on ${stateMachineArn}`);
const result = await startAndWait(new SFNClient({}), stateMachineArn!, name, { job: 'demo-lowercase-email' });
console.log(JSON.stringify(result, null, 2));
process.exit(result.status === 'SUCCEEDED' ? 0 : 1);
