export { AdaptiveBackfill, JOB_MODULE_ALIAS, type AdaptiveBackfillProps } from './adaptive-backfill';
export { buildBackfillDefinition, COMPLETION_EVENT, STATES, type BackfillDefinitionOptions, type BackfillFunctions } from './state-machine';
export { defineJob, type CodeJobDefinition, type ItemOutcome, type JobContext, type JobDefinition, type SqlJobDefinition } from '../core/job';
export { DEFAULT_SETTINGS, type RunSettings, type RunSettingsOverrides } from '../core/settings';
export type { ExecutionInput } from '../core/execution-input';
export type { WorkItem, KeyRange } from '../core/work-item';
export { rangeCondition, type IntegerRange, type KeyColumn, type KeyType, type RangeCondition, type TypedRange } from '../core/key-range';
