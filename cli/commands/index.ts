import type { Command } from '../command';
import { reportCommand } from './report';
import { demoCommand, runCommand } from './run';

/** Every `backfill` subcommand, in the order `backfill --help` lists them. */
export const COMMANDS: readonly Command[] = [demoCommand, runCommand, reportCommand];
