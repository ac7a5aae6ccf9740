import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateJob } from '../../core/job';
import { jobStatement, makeRangeConditioner, planForm, rangeCondition, rangeSqlProblem, type KeyColumn } from '../../core/key-range';
import { parseProducerLines } from '../../core/producer-lines';
import { parseWorkItem, rangeDedupeKey } from '../../core/work-item';

const id: KeyColumn[] = [{ name: 'id', type: 'bigint' }];
const composite: KeyColumn[] = [{ name: 'tenant', type: 'text' }, { name: 'n', type: 'integer' }];

function errorOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe('the range condition ({{range}}, ctx.rangeCondition)', () => {
  it('is one lower and one upper bound, a row comparison for a composite key, open on the last range, values bound', () => {
    // Act
    const conditions = [
      rangeCondition({ lo: '1', hi: '1001' }, id),
      rangeCondition({ lo: ['1'], hi: null }, id),
      rangeCondition({ lo: ['acme', '17'], hi: ['beta', '3'] }, composite),
      rangeCondition({ lo: ['acme', '17'], hi: null }, composite, 3, 'o'),
      rangeCondition({ lo: ['2026-01-31T00:00:00+00:00'], hi: ['2026-02-01T00:00:00+00:00'] }, [{ name: 'at', type: 'timestamptz' }]),
      rangeCondition({ lo: ["x'); DROP TABLE t; --"], hi: null }, [{ name: 'code', type: 'char' }]),
    ];
    // Assess
    assert.deepStrictEqual(conditions, [
      { sql: '"id" >= $1::bigint AND "id" < $2::bigint', params: ['1', '1001'] },
      { sql: '"id" >= $1::bigint', params: ['1'] },
      { sql: '("tenant", "n") >= ($1::text, $2::integer) AND ("tenant", "n") < ($3::text, $4::integer)', params: ['acme', '17', 'beta', '3'] },
      { sql: '("o"."tenant", "o"."n") >= ($3::text, $4::integer)', params: ['acme', '17'] },
      { sql: '"at" >= $1::timestamptz AND "at" < $2::timestamptz', params: ['2026-01-31T00:00:00+00:00', '2026-02-01T00:00:00+00:00'] },
      { sql: '"code" >= $1::bpchar', params: ["x'); DROP TABLE t; --"] },
    ]);
  });

  it('refuses a range that does not fit the key, and a bad alias or start parameter', () => {
    // Act
    const errors = [
      errorOf(() => rangeCondition({ lo: ['1'], hi: ['2'] }, composite)),
      errorOf(() => rangeCondition({ lo: ['a', '1'], hi: null }, id)),
      errorOf(() => rangeCondition({ lo: '1', hi: '2' }, composite)),
      errorOf(() => rangeCondition({ lo: '1', hi: '2' }, [{ name: 'code', type: 'text' }])),
      errorOf(() => rangeCondition({ lo: ['1'], hi: null }, id, 0)),
      errorOf(() => rangeCondition({ lo: ['1'], hi: null }, id, 1, 'o; DROP')),
      errorOf(() => makeRangeConditioner(undefined)({ dedupeKey: 'k', range: { lo: ['1'], hi: null } })),
      errorOf(() => makeRangeConditioner(id)({ dedupeKey: 'user:1' })),
    ];
    // Assess
    assert.deepStrictEqual(errors, [
      'KeyRangeError: range has 1 lower and 1 upper values; this job\'s key (tenant, n) has 2 columns',
      'KeyRangeError: range has 2 lower and no upper values; this job\'s key (id) has 1 column',
      'KeyRangeError: range {lo, hi} of integers fits a key of one integer column; this job\'s key is (tenant, n) of type (text, integer): give range.lo and range.hi as lists of the key\'s values',
      'KeyRangeError: range {lo, hi} of integers fits a key of one integer column; this job\'s key is (code) of type (text): give range.lo and range.hi as lists of the key\'s values',
      'KeyRangeError: startParam must be a positive integer; got 0',
      'InvalidInputError: alias: must be a SQL identifier (a letter or _ then letters, digits or _, at most 63 characters); got "o; DROP"',
      'KeyRangeError: the job has no source.key, so an item\'s range has no condition',
      'KeyRangeError: item user:1 has no range',
    ]);
  });

  it('expands every {{range}} in a SQL job, qualified by {{range:alias}}, and keeps $1/$2 for one-column ranges', () => {
    // Prepare
    const condition = (range: Parameters<typeof rangeCondition>[0]) => (alias?: string) => rangeCondition(range, composite, 1, alias);
    const typed = { lo: ['acme', '1'], hi: ['acme', '9'] };
    // Act
    const statements = [
      jobStatement('UPDATE orders o SET x = 1 FROM t WHERE {{range:o}} AND t.id = o.n AND o.n IN (SELECT n FROM orders WHERE {{ range }})', typed, condition(typed)),
      jobStatement('UPDATE t SET x = 1 WHERE id >= $1 AND id < $2', { lo: '5', hi: '9' }, () => assert.fail('not used')),
      jobStatement('UPDATE t SET x = 1 WHERE id >= $1 AND id < $2', { lo: ['5'], hi: ['9'] }, () => assert.fail('not used')),
    ];
    const errors = [
      errorOf(() => jobStatement('UPDATE t SET x = 1 WHERE id >= $1 AND id < $2', { lo: ['5'], hi: null }, () => assert.fail('not used'))),
      errorOf(() => jobStatement('UPDATE t SET x = 1 WHERE id >= $1 AND id < $2', typed, () => assert.fail('not used'))),
    ];
    // Assess
    assert.deepStrictEqual(statements, [
      {
        text: 'UPDATE orders o SET x = 1 FROM t WHERE ("o"."tenant", "o"."n") >= ($1::text, $2::integer) AND ("o"."tenant", "o"."n") < ($3::text, $4::integer) AND t.id = o.n AND o.n IN (SELECT n FROM orders WHERE ("tenant", "n") >= ($1::text, $2::integer) AND ("tenant", "n") < ($3::text, $4::integer))',
        params: ['acme', '1', 'acme', '9'],
      },
      { text: 'UPDATE t SET x = 1 WHERE id >= $1 AND id < $2', params: ['5', '9'] },
      { text: 'UPDATE t SET x = 1 WHERE id >= $1 AND id < $2', params: ['5', '9'] },
    ]);
    assert.deepStrictEqual(errors, [
      'KeyRangeError: range has no upper end (the last range of a plan); the job\'s sql binds $2 = hi: write {{range}} where the range condition belongs',
      'KeyRangeError: range has 2 values per bound; the job\'s sql binds $1 = lo and $2 = hi of one column: write {{range}} where the range condition belongs',
    ]);
  });

  it('plans the first form only for what was written against it, and refuses $1/$2 for other keys before planning', () => {
    // Act
    const forms = [
      planForm({ sql: 'UPDATE t SET x = 1 WHERE id >= $1 AND id < $2', source: { key: 'id' } }, id),
      planForm({ source: { key: 'id' } }, id),
      planForm({ sql: 'UPDATE t SET x = 1 WHERE {{range}}', source: { key: 'id' } }, id),
      planForm({ source: { key: ['id'] } }, id),
      planForm({ source: { key: 'code' } }, [{ name: 'code', type: 'uuid' }]),
      errorOf(() => planForm({ sql: 'UPDATE t SET x = 1 WHERE code >= $1 AND code < $2', source: { key: 'code' } }, [{ name: 'code', type: 'uuid' }])),
    ];
    // Assess
    assert.deepStrictEqual(forms, ['integer', 'integer', 'typed', 'typed', 'typed',
      'InvalidInputError: sql: the key (code uuid) is planned as typed ranges, the last one open-ended, which $1/$2 cannot bind: write {{range}} where the range condition belongs (UPDATE t SET ... WHERE {{range}}); $1/$2 fit a key of one integer column named as a string']);
  });

  it('checks sql placeholders and source.key when the job is loaded', () => {
    // Prepare
    const job = (source: unknown, sql = 'UPDATE t SET x = 1 WHERE {{range}}') => () => validateJob({ name: 'j', source, sql }, 'job.ts');
    // Act
    const errors = [
      errorOf(job({ table: 't', key: 'tenant,n' })),
      errorOf(job({ table: 't', key: [] })),
      errorOf(job({ table: 't', key: ['a', 'a'] })),
      errorOf(job({ table: 't', key: ['a', 'b c'] })),
      errorOf(job({ table: 't', key: ['a', 'b'] }, 'UPDATE t SET x = 1 WHERE a >= $1 AND a < $2')),
      errorOf(job({ table: 't', key: 'id' }, 'UPDATE t SET x = $1 WHERE {{range}}')),
      errorOf(job({ table: 't', key: 'id' }, 'UPDATE t SET x = 1 WHERE {{rnage}}')),
      errorOf(job({ table: 't', key: ['tenant', 'n'] })),
      errorOf(job({ table: 't', key: 'id' }, 'UPDATE t SET x = 1 WHERE id >= $1 AND id < $2')),
      rangeSqlProblem('UPDATE t SET x = 1 WHERE {{range:o}}') ?? 'ok',
    ];
    // Assess
    assert.deepStrictEqual(errors, [
      'InvalidJobError: job.ts: source.key: a composite key is a list of columns in the order of its index, e.g. key: ["tenant", "n"]; got "tenant,n"',
      'InvalidJobError: job.ts: source.key: a list of 1 to 32 column names; got 0',
      'InvalidJobError: job.ts: source.key: column a is listed twice',
      'InvalidInputError: source.key[1]: must be a SQL identifier (a letter or _ then letters, digits or _, at most 63 characters); got "b c"',
      'InvalidJobError: job.ts: sql: a composite key (a, b) needs {{range}} where the range condition belongs ($1/$2 bind one column), e.g. UPDATE t SET ... WHERE {{range}}',
      'InvalidJobError: job.ts: sql: use either {{range}} (its parameters are bound for you) or $1/$2 (lo and hi of an integer key), not both',
      'InvalidJobError: job.ts: sql: unknown placeholder {{rnage}}; the only one is {{range}} (or {{range:alias}} to qualify the key\'s columns)',
      'ok',
      'ok',
      'ok',
    ]);
  });
});

describe('typed work items', () => {
  it('name their range in a stable dedupe key: integer ranges as ever, others as JSON, long ones hashed', () => {
    // Act
    const keys = [
      rangeDedupeKey({ lo: '1', hi: '1001' }),
      rangeDedupeKey({ lo: ['1'], hi: ['1001'] }),
      rangeDedupeKey({ lo: ['9007199254740993'], hi: null }),
      rangeDedupeKey({ lo: ['-5'], hi: ['007'] }),
      rangeDedupeKey({ lo: ['acme', '17'], hi: ['beta', '3'] }),
      rangeDedupeKey({ lo: ['2026-01-31T00:00:00+00:00'], hi: null }),
      rangeDedupeKey({ lo: ['x'.repeat(300)], hi: ['y'.repeat(300)] }),
    ];
    // Assess
    assert.deepStrictEqual(keys.slice(0, 6), [
      'range:1-1001',
      'range:1-1001',
      'range:9007199254740993-',
      'range:[["-5"],["007"]]',
      'range:[["acme","17"],["beta","3"]]',
      'range:[["2026-01-31T00:00:00+00:00"],null]',
    ]);
    assert.match(keys[6], /^range:sha256:[0-9a-f]{64}$/);
    assert.equal(rangeDedupeKey({ lo: ['x'.repeat(300)], hi: ['y'.repeat(300)] }), keys[6]);
  });

  it('are valid with lists of strings, hi null or as long as lo, and malformed otherwise, naming the field', () => {
    // Prepare
    const body = (range: unknown, dedupeKey = 'k') => JSON.stringify({ v: 1, runId: 'r1', dedupeKey, range });
    // Act
    const reasons = [
      body({ lo: ['acme', '17'], hi: ['beta', '3'] }, 'range:[["acme","17"],["beta","3"]]'),
      body({ lo: ['1'], hi: null }, 'range:1-'),
      body({ lo: [], hi: null }),
      body({ lo: ['a', 7], hi: null }),
      body({ lo: ['a'], hi: ['b', 'c'] }),
      body({ lo: ['a'] }),
      body({ lo: ['a'], hi: [null] }),
      body({ lo: ['a'], hi: null }, 'range:a-'),
      body({ lo: ['1'], hi: '2' }),
    ].map((b) => errorOf(() => parseWorkItem(b)));
    // Assess
    const m = 'MalformedWorkItemError: ';
    assert.deepStrictEqual(reasons, [
      'ok',
      'ok',
      `${m}range.lo must list 1 to 32 values, one per key column; got 0`,
      `${m}range.lo[1] must be a string (the key column's value as text, e.g. "2026-01-31T00:00:00Z" or "42"); got number 7`,
      `${m}range.hi must be null (open-ended) or a list of 1 value like range.lo; got array ["b","c"]`,
      `${m}range.hi must be null (open-ended) or a list of 1 value like range.lo; missing`,
      `${m}range.hi[0] must be a string (the key column's value as text, e.g. "2026-01-31T00:00:00Z" or "42"); got null null`,
      `${m}dedupeKey "range:a-" does not name the item's range [["a"], null): a "range:" key must be exactly "range:[[\\"a\\"],null]"; give a producer's own keys another prefix`,
      `${m}range.hi must be null (open-ended) or a list of 1 value like range.lo; got string "2"`,
    ]);
  });

  it('are taken from producers (backfill enqueue), and a bad one is named by its line and field', () => {
    // Prepare
    const good = '{"dedupeKey":"range:[[\\"acme\\",\\"1\\"],null]","range":{"lo":["acme","1"],"hi":null}}';
    const bad = '{"dedupeKey":"k2","range":{"lo":["acme",1],"hi":null}}';
    // Act
    const items = parseProducerLines(good, 'r1');
    const error = errorOf(() => parseProducerLines(`${good}\n${bad}`, 'r1'));
    // Assess
    assert.deepStrictEqual(items, [{ v: 1, runId: 'r1', dedupeKey: 'range:[["acme","1"],null]', range: { lo: ['acme', '1'], hi: null } }]);
    assert.match(error, /line 2: range\.lo\[1\] must be a string \(the key column's value as text, e\.g\. "2026-01-31T00:00:00Z" or "42"\); got number 1$/);
  });
});
