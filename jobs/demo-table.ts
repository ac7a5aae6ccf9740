import type { Queryable } from '../core/job';

/**
 * (Re)creates demo_items with `rows` rows whose keys are sparse (every third integer, so ranges must be
 * planned from actual keys) and whose email_lower column is still empty.
 */
export async function createDemoTable(db: Queryable, rows: number): Promise<void> {
  await db.query('DROP TABLE IF EXISTS demo_items');
  await db.query('CREATE TABLE demo_items (id bigint PRIMARY KEY, email text NOT NULL, email_lower text)');
  await db.query(
    `INSERT INTO demo_items (id, email)
     SELECT g * 3, 'User.' || g || '@Example.COM' FROM generate_series(1, $1::int) AS g`,
    [rows],
  );
  await db.query('VACUUM ANALYZE demo_items');
}
