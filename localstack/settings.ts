/**
 * The LocalStack set-up's fixed facts, matching docker-compose.yml. The AWS endpoint itself is not here: every
 * client takes it from the standard AWS_ENDPOINT_URL variables (env.ts refuses to run without one).
 */
export const LOCALSTACK = {
  /** The stack `localstack:deploy` deploys (the import example stack, pointed at the compose Postgres). */
  stackName: 'AdaptiveBackfillExample',
  /** The secret the functions read: the compose Postgres as the Lambda containers see it. */
  secretName: 'adaptive-backfill/localstack-postgres',
  secret: { host: 'postgres', port: 5432, username: 'backfill', password: 'backfill-local-only', dbname: 'backfill', ssl: false },
  /** The same Postgres as the host sees it (demo_items is created from here). */
  hostDatabaseUrl: 'postgres://backfill:backfill-local-only@127.0.0.1:55432/backfill',
  demoRows: 100_000,
} as const;
