import type { LastError } from '../core/controller';
import type { RunEvent, RunSummary } from './run-local';

const WIDTH = 24;
const QUIET_INTERVAL_MS = 2000;

/**
 * Shows rows done, rate, batch size and state (processing, or backing off and why). On a terminal it redraws
 * one line; elsewhere (CI, a pipe) it prints a line every few seconds and whenever the state changes.
 */
export class ProgressReporter {
  private planned = 0;
  private itemsDone = 0;
  private rows = 0;
  private batchSize = 0;
  private state = 'starting';
  private firstBatchAt: number | undefined;
  private lastPrinted = 0;
  private lastState = '';
  private lastError: LastError | null = null;
  /** The latency controller's last decision (duty, pause, signal, why), from the last steered batch. */
  private steering: string | undefined;

  public constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly now: () => number = Date.now,
  ) {}

  public handle(event: RunEvent): void {
    switch (event.type) {
      case 'database':
        // The URL lets an operator steer this run from another shell (backfill pause|resume|set --database-url URL).
        this.print(event.embedded ? `embedded Postgres at ${event.url} (server log: ${event.logFile})` : 'using the given Postgres', true);
        return;
      case 'completion':
        // On AWS this goes to EventBridge; locally it is printed, one JSON line.
        this.print(`completion event: ${JSON.stringify({ source: event.event.source, 'detail-type': event.event.detailType, detail: event.event.detail })}`, true);
        return;
      case 'execution':
        return;
      case 'planned':
        this.planned = event.run.plannedItems;
        this.print(`run ${event.run.runId}: ${event.run.plannedItems} work items of up to ${event.run.settings.chunkSize} rows`, true);
        return;
      case 'decision':
        this.batchSize = event.control.batchSize;
        this.state = describeDecision(event.control.action, event.control.waitSeconds, event.control.reason);
        // The in-batch controller's last decision stays on the line while batches go on.
        if (this.state === 'processing' && this.steering) this.state = `processing · ${this.steering}`;
        break;
      case 'batch':
        this.firstBatchAt ??= this.now();
        this.itemsDone += event.stats.succeeded + event.stats.deadLettered;
        this.rows += event.stats.rowsAffected;
        if (event.stats.error) this.state = `batch failed: ${event.stats.error}`;
        else if (event.stats.latency?.stopped) this.state = `batch stopped after ${event.stats.latency.statements} statements, ${event.stats.latency.stopped.handedBack} items handed back uncharged: ${event.stats.latency.stopped.reason}`;
        else if (event.stats.latency) this.state = `processing · ${(this.steering = `duty ${Math.round(event.stats.latency.state.duty * 100)}%, pause ${event.stats.latency.state.pauseMs} ms · ${event.stats.latency.state.reason}`)}`;
        if (event.stats.lastError) this.noteError(event.stats.lastError);
        break;
    }
    this.render();
  }

  /** Draws the final line and ends it, so what is printed next starts on a line of its own. */
  public finish(summary: RunSummary): void {
    this.lastState = '';
    this.rows = summary.rowsAffected;
    if (summary.lastError) this.noteError(summary.lastError);
    this.render(true);
    if (this.out.isTTY) this.out.write('\n');
  }

  private render(force = false): void {
    const elapsed = this.firstBatchAt === undefined ? 0 : (this.now() - this.firstBatchAt) / 1000;
    const rate = elapsed > 0 ? Math.round(this.rows / elapsed) : 0;
    const fraction = this.planned > 0 ? Math.min(1, this.itemsDone / this.planned) : 0;
    const filled = Math.round(fraction * WIDTH);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`;
    const error = this.lastError ? ` · ${describeLastError(this.lastError)}` : '';
    const line = `${bar} ${(fraction * 100).toFixed(1).padStart(5)}% ${this.rows.toLocaleString('en-US')} rows · ${rate.toLocaleString('en-US')} rows/s · batch ${this.batchSize} items · ${this.state}${error}`;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns ?? 160) - 1)}`);
      return;
    }
    // A new error is a change too.
    const state = `${this.state}${error}`;
    const changed = state !== this.lastState;
    if (force || changed || this.now() - this.lastPrinted >= QUIET_INTERVAL_MS) this.print(line, false);
    this.lastState = state;
  }

  /** A new error is printed on a line of its own as well (a terminal's line may be too narrow to show it). */
  private noteError(error: LastError): void {
    const changed = this.lastError?.error !== error.error;
    this.lastError = error;
    if (changed && this.out.isTTY) this.print(describeLastError(error), true);
  }

  private print(line: string, above: boolean): void {
    if (this.out.isTTY && above) this.out.write(`\r\x1b[2K${line}\n`);
    else if (!this.out.isTTY) this.out.write(`${line}\n`);
    this.lastPrinted = this.now();
  }
}

function describeDecision(action: string, waitSeconds: number, reason: string): string {
  switch (action) {
    case 'proceed':
      return reason === 'healthy' ? 'processing' : reason;
    case 'backoff':
      return `backing off ${waitSeconds}s: ${reason}`;
    case 'pause':
      return `paused (checking every ${waitSeconds}s): backfill resume to go on`;
    case 'abort':
      return 'aborting: aborted by the operator';
    case 'continue':
      return reason;
    default:
      return `halting: ${reason}`;
  }
}

/** "last error (3 items): column "nope" does not exist [range:0-100]" */
export function describeLastError(e: LastError): string {
  return `last error (${e.items} item${e.items === 1 ? '' : 's'}): ${e.error}${e.dedupeKey ? ` [${e.dedupeKey}]` : ''}`;
}
