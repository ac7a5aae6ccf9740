import type { Context } from 'aws-lambda';
import type { PowertoolsTelemetry } from './powertools-telemetry';

/** A log line written when the handler returns: its message and the fields taken from the result. */
export interface Summary<R> {
  readonly message: string;
  readonly fields: (result: R) => Record<string, unknown>;
}

/**
 * Wraps a handler for Lambda: the invocation's context on every log line, a log line for any failure (with the run
 * it belongs to), an optional summary of the result, and metrics flushed whatever happened.
 */
export function instrument<E, R>(
  name: string,
  handler: (event: E, context: Context) => Promise<R>,
  telemetry: PowertoolsTelemetry,
  summary?: Summary<R>,
): (event: E, context: Context) => Promise<R> {
  return async (event, context) => {
    telemetry.addContext(context);
    try {
      const result = await handler(event, context);
      if (summary) telemetry.log('info', summary.message, summary.fields(result));
      return result;
    } catch (error) {
      const e = error as Error;
      telemetry.log('error', `${name} failed`, { runId: runIdOf(event), error: e.message, errorName: e.name, stack: e.stack });
      throw error;
    } finally {
      telemetry.flush();
    }
  };
}

/** The run an event belongs to, where it says: `run.runId` (probe, processor) or the execution name (init). */
function runIdOf(event: unknown): string | undefined {
  const e = event as { run?: { runId?: unknown }; executionName?: unknown } | null;
  const id = e?.run?.runId ?? e?.executionName;
  return typeof id === 'string' ? id : undefined;
}
