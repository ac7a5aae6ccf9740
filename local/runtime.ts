import { LocalRuntimeMissingError } from '../core/errors';

type LocalRuntime = typeof import('@adaptive-backfill/local');

const PACKAGE = '@adaptive-backfill/local';
let loaded: Promise<LocalRuntime> | undefined;

/**
 * The embedded runtime's heavy parts (embedded Postgres, the SQS server, the ASL interpreter) come from their own
 * package, loaded on first use: adaptive-backfill itself (the construct, the CLI's AWS commands) never needs them.
 * Throws LocalRuntimeMissingError, which says what to install, when the package is missing.
 */
export function localRuntime(): Promise<LocalRuntime> {
  loaded ??= import(PACKAGE).catch((error: unknown) => {
    loaded = undefined;
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (code === 'ERR_MODULE_NOT_FOUND' && String(message).includes(`'${PACKAGE}'`)) throw new LocalRuntimeMissingError({ cause: error });
    throw error;
  }) as Promise<LocalRuntime>;
  return loaded;
}
