import type { Command } from '../command';
import { abortCommand } from './abort';
import { dlqCommand } from './dlq';
import { enqueueCommand } from './enqueue';
import { pauseCommand, resumeCommand } from './pause-resume';
import { reportCommand } from './report';
import { demoCommand, runCommand } from './run';
import { schemaCommand } from './schema';
import { setCommand } from './set';
import { startCommand } from './start';
import { statusCommand } from './status';

/** Every `backfill` subcommand, in the order `backfill --help` lists them. */
export const COMMANDS: readonly Command[] = [
  demoCommand, runCommand, startCommand, statusCommand, pauseCommand, resumeCommand, setCommand, abortCommand, dlqCommand, enqueueCommand, reportCommand, schemaCommand,
];
