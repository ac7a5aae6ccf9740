// The `backfill` command (bin/backfill.js runs it: these sources through tsx in this repository, dist/ once
// installed). Subcommands live in cli/commands/.
import '../cli/sdk-node-warning';
export { main } from '../cli/main';
