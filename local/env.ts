/** The only place the local runtime and the CLI read process.env. */
export const localEnv = {
  databaseUrl: process.env.DATABASE_URL || undefined,
};
