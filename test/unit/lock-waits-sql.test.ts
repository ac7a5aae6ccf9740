import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lockWaitSql, waitStartSql } from '../../db/health/checks/lock-waits';

describe('lock wait ages by server version', () => {
  it('reads pg_locks.waitstart on Postgres 14+, and bounds the wait by the statement\'s start before 14', () => {
    // Prepare
    const waitstart = 'COALESCE((SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted), a.query_start)';
    const statementStart = 'GREATEST(a.query_start, a.state_change)';
    // Act
    const starts = [170002, 150020, 140000, 139999, 130016, 100023].map(waitStartSql);
    const older = lockWaitSql(130016);
    // Assess
    assert.deepStrictEqual(starts, [waitstart, waitstart, waitstart, statementStart, statementStart, statementStart]);
    assert.deepStrictEqual([older.includes('waitstart'), older.includes(`EXTRACT(epoch FROM now() - ${statementStart})::float8 AS waited`)], [false, true]);
  });
});
