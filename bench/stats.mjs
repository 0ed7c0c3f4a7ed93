// Small statistics helpers for the benchmarks: every figure is a median (or a
// percentile) of several runs after a warm-up, measured in one process, and
// every comparison is a ratio of runs interleaved in that process.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export function time(fn) {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

export async function timeAsync(fn) {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

export function median(values) {
  return percentile(values, 50);
}

/** Nearest-rank percentile: the smallest value with at least p% of the values at or below it. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export function round(value, digits = 2) {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : value;
}

/**
 * Runs each named async measurement `runs` times after one warm-up round, the
 * measurements interleaved (the order rotates every round) so that a burst of
 * load from other processes falls on all of them alike. Each measurement
 * returns a number (a time in ms, or a rate); the result holds every run.
 */
export async function interleaved(measurements, { runs, warmup = 1 }) {
  const names = Object.keys(measurements);
  const results = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = -warmup; round < runs; round++) {
    const shift = ((round % names.length) + names.length) % names.length;
    const order = [...names.slice(shift), ...names.slice(0, shift)];
    for (const name of order) {
      const value = await measurements[name](round);
      if (round >= 0) results[name].push(value);
    }
  }
  return results;
}

/** The median over rounds of a per-round ratio: robust to load that changes between rounds. */
export function medianRatio(numerators, denominators) {
  return median(numerators.map((value, i) => value / denominators[i]));
}

/** A process's peak and current resident memory in MB, from /proc (Linux). */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakRssMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
