import { makeHealthProbeHandler } from '../health-probe';
import { awsDeps, telemetry } from './aws-deps';
import { instrument } from './instrument';

export const handler = instrument('health probe', makeHealthProbeHandler(awsDeps), telemetry);
