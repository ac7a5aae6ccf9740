/** One `backfill` subcommand: its own flags, usage and exit status. */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full usage text, printed by `backfill NAME --help` and after a usage error. */
  readonly usage: string;
  /** Runs with the arguments after the command name; returns the exit status. */
  run(argv: readonly string[]): Promise<number>;
}
