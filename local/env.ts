/** The only place the local runtime and the CLI read process.env. */
export const localEnv = {
  databaseUrl: process.env.DATABASE_URL || undefined,
  /** Where `backfill` finds a deployment: a CloudFormation stack holding one AdaptiveBackfill... */
  stack: process.env.BACKFILL_STACK || undefined,
  /** ...or its parts, given directly. */
  stateMachineArn: process.env.BACKFILL_STATE_MACHINE_ARN || undefined,
  queueUrl: process.env.BACKFILL_QUEUE_URL || undefined,
  deadLetterQueueUrl: process.env.BACKFILL_DLQ_URL || undefined,
  /** The operator commands reach the run table through DATABASE_URL, or this RDS-format secret. */
  databaseSecretArn: process.env.BACKFILL_DATABASE_SECRET_ARN || undefined,
  /** The bookkeeping schema of the runs (the construct's bookkeepingSchema); default backfill. */
  bookkeepingSchema: process.env.BACKFILL_SCHEMA || undefined,
};
