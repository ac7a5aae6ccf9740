import type { MetricUnit, Telemetry } from '../../lambdas/telemetry';

export interface RecordedMetric {
  readonly name: string;
  readonly unit: MetricUnit;
  readonly value: number;
  readonly dimensions?: Readonly<Record<string, string>>;
}

/** A Telemetry that keeps what the handlers emit, flushed metrics and logs apart. */
export function recordingTelemetry() {
  const logs: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const flushed: RecordedMetric[][] = [];
  let buffer: RecordedMetric[] = [];
  const telemetry: Telemetry = {
    log: (level, message, fields) => logs.push({ level, message, fields }),
    metric: (name, unit, value, dimensions) => buffer.push(dimensions ? { name, unit, value, dimensions } : { name, unit, value }),
    flush: () => {
      flushed.push(buffer);
      buffer = [];
    },
  };
  return { telemetry, logs, flushed };
}

/**
 * Captures what is written to stdout and stderr while `fn` runs, one parsed JSON document per line. Awaited, so it
 * also holds across an async handler (a test body runs alone; the test runner reports after it).
 */
export async function captureJsonLines(fn: () => unknown): Promise<Array<Record<string, any>>> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }) as typeof stream.write;
  }
  try {
    await fn();
  } finally {
    streams.forEach((stream, i) => { stream.write = writes[i]; });
  }
  return chunks.join('').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, any>);
}
