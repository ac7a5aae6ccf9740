import { makeInitRunHandler } from '../init-run';
import { awsDeps, telemetry } from './aws-deps';
import { instrument } from './instrument';

export const handler = instrument('run initialized', makeInitRunHandler(awsDeps), telemetry, (result) => ({
  runId: result.run.runId,
  job: result.run.jobName,
  plannedItems: result.run.plannedItems,
  generation: result.control.generation,
}));
