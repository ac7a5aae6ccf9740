import { makeInitRunHandler } from '../init-run';
import { awsDeps } from './aws-deps';

export const handler = makeInitRunHandler(awsDeps);
