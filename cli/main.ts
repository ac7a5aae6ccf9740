import { InvalidInputError } from '../core/errors';
import { oneLine } from './args';
import { COMMANDS } from './commands/index';

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `usage: backfill COMMAND [options]   (backfill COMMAND --help for its options)\n\ncommands:\n${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}`;
}

/** The `backfill` command: dispatches to a subcommand and turns any error into one line and exit status 1. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new InvalidInputError('command', `unknown command ${JSON.stringify(name)}; known: ${COMMANDS.map((c) => c.name).join(', ')}`);
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(command.usage);
      return 0;
    }
    return await command.run(rest);
  } catch (error) {
    console.error(`backfill: ${oneLine(error)}`);
    if (command && isUsageError(error)) console.error(`\n${command.usage}`);
    return 1;
  }
}

/** A flag-level mistake, after which the command's usage helps. */
function isUsageError(error: unknown): boolean {
  if (error instanceof InvalidInputError) return error.field.startsWith('--') || error.field === 'arguments';
  return String((error as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
}
