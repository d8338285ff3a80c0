// The production Runtime: the machine's own clock, timers, random source, disk
// and TCP. Entry points (src/*/main.ts) build it once and hand it down.
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { nodeDisk } from './node-disk.js';
import type { Runtime, Timer } from './runtime.js';
import { tcpNetwork } from './tcp.js';

const timer = (t: NodeJS.Timeout, background: boolean | undefined, clear: (t: NodeJS.Timeout) => void): Timer => {
  if (background) t.unref();
  return { cancel: () => clear(t) };
};

export const nodeRuntime: Runtime = {
  clock: {
    now: () => Date.now(),
    monotonic: () => performance.now(),
  },
  timers: {
    setTimeout: (fn, ms, opts) => timer(setTimeout(fn, ms), opts?.background, clearTimeout),
    setInterval: (fn, ms, opts) => timer(setInterval(fn, ms), opts?.background, clearInterval),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  },
  random: {
    float: () => Math.random(),
    bytes: (n) => randomBytes(n),
    uuid: () => randomUUID(),
  },
  disk: nodeDisk,
  net: tcpNetwork,
};
