import type { SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import type { ControlState } from '../core/controller';
import type { JobDefinition } from '../core/job';
import type { LeaseHolder } from '../core/lease';
import type { RunSettings } from '../core/settings';
import type { MetricSource } from '../db/health/metric-source';
import type { Telemetry } from './telemetry';

/** What every handler needs; the AWS entry points build it from the environment, the local runtime directly. */
export interface HandlerDeps {
  readonly job: JobDefinition;
  readonly getPool: () => Promise<pg.Pool>;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** The work queue's redrive maxReceiveCount: the attempt at which a retried item is final. */
  readonly maxReceiveCount: number;
  /**
   * Receives the queue counts when a message is handed back with ChangeMessageVisibility: 0 on SQS, 1 on
   * local-aws-sqs (it counts the change as a receive), so a retry's last attempt is still recorded final. @default 0
   */
  readonly receivesPerRelease?: number;
  readonly bookkeepingSchema: string;
  /** Long-poll seconds for the first receive of a batch (0 locally). */
  readonly receiveWaitSeconds: number;
  readonly random?: () => number;
  /** CloudWatch for the rds* and the job's metric checks; the AWS entry points set it when configured. @default none */
  readonly metrics?: MetricSource;
  /** Logs and metrics. @default silent */
  readonly telemetry?: Telemetry;
  /**
   * The run's processor when it is this process (the embedded runtime: a local holder with its lease length).
   * @default each execution is its own holder (its ARN), with a lease from awsLeaseSeconds
   */
  readonly lease?: LeaseHolder & { readonly ttlSeconds: number };
}

/** The run as the state machine carries it from Init to every later state. */
export interface RunContext {
  readonly runId: string;
  readonly jobName: string;
  readonly settings: RunSettings;
  readonly plannedItems: number;
}

export type { ControlState };
