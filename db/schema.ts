import type pg from 'pg';
import { quoteIdentifier } from '../core/identifiers';
import { withTransaction } from './pool';

/**
 * Creates the bookkeeping schema and tables if missing, and adds columns that later versions introduced.
 * Serialized with an advisory lock so concurrent starts do not race.
 *
 * - runs: one row per run: status, resolved settings, live knobs, operator flags, last health and control state.
 * - done_items: one row per dedupe key whose effect committed (exactly-once).
 * - failures: the audit of every failed attempt.
 * - history: the run's timeline: every decision (with its health report) and every batch.
 * - items: every work item a run was given (see items.ts), so the embedded runtime can rebuild its queues.
 * - leases: the one processor (local process or AWS execution) working on each run, with its heartbeat (lease.ts).
 * - heartbeat: one row, updated by the commit-latency canary (db/latency/canary.ts).
 */
export async function ensureBookkeeping(pool: pg.Pool, schema: string): Promise<void> {
  const s = quoteIdentifier(schema);
  await withTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('adaptive-backfill:' || $1))`, [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.runs (
      run_id text PRIMARY KEY,
      job text NOT NULL,
      status text NOT NULL,
      settings jsonb NOT NULL,
      planned_items integer,
      reason text,
      last_health jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz)`);
    for (const column of [
      `executions text[] NOT NULL DEFAULT '{}'`,
      // Operator controls, read by every probe.
      `paused boolean NOT NULL DEFAULT false`,
      `abort_requested boolean NOT NULL DEFAULT false`,
      `knobs jsonb NOT NULL DEFAULT '{}'`,
      // The controller's latest state (batch size, backoff attempt, ...), for status.
      `control jsonb`,
    ]) {
      await client.query(`ALTER TABLE ${s}.runs ADD COLUMN IF NOT EXISTS ${column}`);
    }
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.done_items (
      run_id text NOT NULL,
      dedupe_key text NOT NULL,
      rows_affected bigint NOT NULL,
      done_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (run_id, dedupe_key))`);
    // Done by a code job's `ok` without ctx.withTransaction, recorded after the fact (db/at-least-once.ts).
    await client.query(`ALTER TABLE ${s}.done_items ADD COLUMN IF NOT EXISTS at_least_once boolean NOT NULL DEFAULT false`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.failures (
      id bigserial PRIMARY KEY,
      run_id text NOT NULL,
      dedupe_key text,
      message_id text,
      attempt integer NOT NULL,
      error text NOT NULL,
      stack text,
      final boolean NOT NULL,
      failed_at timestamptz NOT NULL DEFAULT now())`);
    await client.query(`CREATE INDEX IF NOT EXISTS failures_run_id ON ${s}.failures (run_id)`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.history (
      id bigserial PRIMARY KEY,
      run_id text NOT NULL,
      at timestamptz NOT NULL DEFAULT now(),
      kind text NOT NULL,
      data jsonb NOT NULL)`);
    await client.query(`CREATE INDEX IF NOT EXISTS history_run_id ON ${s}.history (run_id, id)`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.items (
      run_id text NOT NULL,
      dedupe_key text NOT NULL,
      body jsonb NOT NULL,
      enqueued_at timestamptz NOT NULL DEFAULT now(),
      requeued_at timestamptz,
      purged_at timestamptz,
      PRIMARY KEY (run_id, dedupe_key))`);
    await client.query(`CREATE INDEX IF NOT EXISTS failures_item ON ${s}.failures (run_id, dedupe_key) WHERE final`);
    // Overlapping work (overlaps.ts): recorded ranges are found by intersection, and done items carry their range.
    await client.query(`CREATE INDEX IF NOT EXISTS items_range ON ${s}.items USING gist ((numrange((body->'range'->>'lo')::numeric, (body->'range'->>'hi')::numeric))) WHERE jsonb_typeof(body->'range'->'lo') = 'string'`);
    await client.query(`ALTER TABLE ${s}.done_items ADD COLUMN IF NOT EXISTS lo numeric, ADD COLUMN IF NOT EXISTS hi numeric`);
    await client.query(`CREATE INDEX IF NOT EXISTS done_items_lo ON ${s}.done_items (run_id, lo) WHERE lo IS NOT NULL`);
    // One active processor per run (lease.ts): who holds it, its heartbeat, when it lapses.
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.leases (
      run_id text PRIMARY KEY,
      holder text NOT NULL,
      host text,
      pid integer,
      acquired_at timestamptz NOT NULL,
      heartbeat_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      released_at timestamptz)`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.heartbeat (id integer PRIMARY KEY, beats bigint NOT NULL, beat_at timestamptz NOT NULL)`);
    await client.query(`INSERT INTO ${s}.heartbeat (id, beats, beat_at) VALUES (1, 0, now()) ON CONFLICT DO NOTHING`);
  });
}
