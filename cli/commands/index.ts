import type { Command } from '../command';
import { dlqCommand } from './dlq';
import { enqueueCommand } from './enqueue';
import { demoCommand, runCommand } from './run';

/** Every `backfill` subcommand, in the order `backfill --help` lists them. */
export const COMMANDS: readonly Command[] = [demoCommand, runCommand, enqueueCommand, dlqCommand];
