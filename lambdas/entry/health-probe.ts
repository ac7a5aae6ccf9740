import { makeHealthProbeHandler } from '../health-probe';
import { awsDeps } from './aws-deps';

export const handler = makeHealthProbeHandler(awsDeps);
