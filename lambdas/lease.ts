import { awsLeaseSeconds, type LeaseHolder } from '../core/lease';
import type { RunSettings } from '../core/settings';
import type { HandlerDeps } from './deps';

/**
 * Who holds the run's lease for this invocation, and for how long each renewal lasts: the local process when the
 * embedded runtime runs it (deps.lease), else the execution itself, for awsLeaseSeconds of the run's settings.
 */
export function leaseOf(deps: HandlerDeps, executionId: string, settings: Pick<RunSettings, 'backoff' | 'pausePollSeconds'>): { readonly holder: LeaseHolder; readonly ttlSeconds: number } {
  if (deps.lease) return { holder: deps.lease, ttlSeconds: deps.lease.ttlSeconds };
  return { holder: { holder: executionId }, ttlSeconds: awsLeaseSeconds(settings) };
}
