import { makeBatchProcessorHandler } from '../batch-processor';
import { awsDeps } from './aws-deps';

export const handler = makeBatchProcessorHandler(awsDeps);
