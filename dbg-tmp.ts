import { openOtherSession, openTestDatabase } from './test/support/database';
import { ensureBookkeeping } from './db/schema';
import { LatencySampler } from './db/latency/sampler';
import { resolveSettings } from './core/settings';
const db = await openTestDatabase();
try {
  await ensureBookkeeping(db.pool, 'backfill');
  await db.pool.query('CREATE TABLE counted (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)');
  const other = await openOtherSession(db.url);
  await other.query('BEGIN'); await other.query('LOCK TABLE counted IN ACCESS EXCLUSIVE MODE');
  const s = await LatencySampler.start(db.pool, 'backfill', resolveSettings(), 'counted');
  const c = await db.pool.connect();
  console.log('pid', (c as any).processID, db.pool.options.application_name);
  s.watch((c as any).processID);
  const t = Date.now();
  try { await c.query('UPDATE counted SET n = n + 1'); } catch (e) { console.log('stmt err', (e as any).code, Date.now() - t); }
  console.log(s.signal());
  console.log(await s.stop());
  c.release(); await other.query('COMMIT'); await other.end();
} catch (e) { console.error('ERR', e); } finally { await db.close(); }
