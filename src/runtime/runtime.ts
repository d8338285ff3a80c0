// The one seam between a node's logic and the world: its clock, timers, random
// source, disk and network. Storage, the coordinator, the socket handlers and
// every background worker take a Runtime and never call Date.now, setTimeout,
// Math.random, crypto.randomBytes, uuid, node:fs or node:net themselves. The
// production Runtime (./node.ts) hands them the real ones; the simulator
// (../sim/) hands them a seeded clock, network and disk, so that a whole cluster
// runs in one process and every failure schedule replays exactly.
import type { Disk } from './disk.js';
import type { Network } from './network.js';

export interface Clock {
  /** Wall-clock time, ms since the epoch: for timestamps people read. It may jump. */
  now(): number;
  /** Monotonic ms for measuring durations and ordering events; never goes back. */
  monotonic(): number;
}

export interface Timer {
  cancel(): void;
}

export interface Timers {
  /** `background`: the timer alone does not keep the process alive (unref). */
  setTimeout(fn: () => void, ms: number, opts?: { background?: boolean }): Timer;
  setInterval(fn: () => void, ms: number, opts?: { background?: boolean }): Timer;
  sleep(ms: number): Promise<void>;
}

export interface Random {
  /** Uniform in [0, 1). */
  float(): number;
  bytes(n: number): Buffer;
  /** A random UUID (v4): request and write ids. */
  uuid(): string;
}

export interface Runtime {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly disk: Disk;
  readonly net: Network;
}

/** A uniform integer in [0, n). */
export function randomInt(r: Random, n: number): number {
  return Math.floor(r.float() * n);
}

/** A random hex string of `bytes` bytes. */
export function randomHex(r: Random, bytes: number): string {
  return r.bytes(bytes).toString('hex');
}

/** Runs fn every intervalMs until cancelled: a worker's schedule (node-cron in production, the runtime's timers in the simulator). */
export type Ticker = (intervalMs: number, fn: () => void) => Timer;
