import type { TrialResult } from './trial';

export interface KindSummary {
  readonly kind: string;
  readonly trials: number;
  /** Trials whose every row ended changed exactly once. */
  readonly exactlyOnce: number;
  /** Rows never changed, summed over the trials. */
  readonly lost: number;
  /** Rows changed more than once, summed over the trials. */
  readonly doubled: number;
  /** Trials that needed something beyond their own steps (a re-run after a crash or hang). */
  readonly neededManualAction: number;
  readonly passed: number;
}

export function summarize(results: readonly TrialResult[]): KindSummary[] {
  const kinds = [...new Set(results.map((r) => r.kind))];
  return kinds.map((kind) => {
    const of = results.filter((r) => r.kind === kind);
    return {
      kind,
      trials: of.length,
      exactlyOnce: of.filter((r) => r.exactlyOnce).length,
      lost: of.reduce((n, r) => n + r.lost, 0),
      doubled: of.reduce((n, r) => n + r.doubled, 0),
      neededManualAction: of.filter((r) => r.manualActions.length > 0).length,
      passed: of.filter((r) => r.passed).length,
    };
  });
}

/** The table as Markdown (the terminal and docs/reliability.md show the same). */
export function formatTable(rows: readonly KindSummary[]): string {
  const header = ['trial kind', 'trials', 'exactly-once', 'lost rows', 'doubled rows', 'needing manual action', 'passed'];
  const total: KindSummary = {
    kind: '**all**',
    trials: rows.reduce((n, r) => n + r.trials, 0),
    exactlyOnce: rows.reduce((n, r) => n + r.exactlyOnce, 0),
    lost: rows.reduce((n, r) => n + r.lost, 0),
    doubled: rows.reduce((n, r) => n + r.doubled, 0),
    neededManualAction: rows.reduce((n, r) => n + r.neededManualAction, 0),
    passed: rows.reduce((n, r) => n + r.passed, 0),
  };
  const lines = [...rows, total].map((r) => [r.kind, r.trials, `${r.exactlyOnce}/${r.trials}`, r.lost, r.doubled, r.neededManualAction, `${r.passed}/${r.trials}`]);
  return [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
