/** Reads one variable the construct (or the example stack) sets; a missing one is a deployment mistake. */
export function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set (the AdaptiveBackfill construct sets it)`);
  return value;
}

/** Reads one variable the construct sets only for some functions or deployments. */
export function optional(name: string): string | undefined {
  return process.env[name] || undefined;
}
