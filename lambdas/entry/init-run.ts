import { makeInitRunHandler } from '../init-run';
import { awsDeps, telemetry } from './aws-deps';
import { instrument } from './instrument';

export const handler = instrument('init run', makeInitRunHandler(awsDeps), telemetry, {
  message: 'run initialized',
  fields: (result) => ({ runId: result.run.runId, job: result.run.jobName, plannedItems: result.run.plannedItems, generation: result.control.generation }),
});
