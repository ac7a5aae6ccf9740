// The `backfill` command; bin/backfill.js runs it through tsx. Subcommands live in cli/commands/.
export { main } from '../cli/main';
