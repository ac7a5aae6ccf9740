/** Latency samples of the OLTP load: [scheduled start ms, latency ms] pairs from the worker. */
export interface LatencyStats {
  readonly transactions: number;
  readonly tps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** p50/p99 over the transactions scheduled inside [from, to). */
export function latencyStats(samples: Float64Array, from: number, to: number): LatencyStats {
  const latencies: number[] = [];
  for (let i = 0; i < samples.length; i += 2) {
    if (samples[i] >= from && samples[i] < to) latencies.push(samples[i + 1]);
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
  return { transactions: latencies.length, tps: latencies.length / ((to - from) / 1000), p50Ms: at(0.5), p99Ms: at(0.99), maxMs: latencies.at(-1) ?? NaN };
}
