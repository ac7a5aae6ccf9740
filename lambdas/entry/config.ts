/** The only place the Lambda functions read process.env. */
function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set (the AdaptiveBackfill construct sets it)`);
  return value;
}

export const config = {
  queueUrl: required('QUEUE_URL'),
  deadLetterQueueUrl: required('DEAD_LETTER_QUEUE_URL'),
  maxReceiveCount: Number(required('MAX_RECEIVE_COUNT')),
  databaseSecretArn: required('DATABASE_SECRET_ARN'),
  bookkeepingSchema: required('BOOKKEEPING_SCHEMA'),
};
