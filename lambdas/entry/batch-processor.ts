import { makeBatchProcessorHandler } from '../batch-processor';
import { awsDeps, telemetry } from './aws-deps';
import { instrument } from './instrument';

export const handler = instrument('batch processor', makeBatchProcessorHandler(awsDeps), telemetry);
