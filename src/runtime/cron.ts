// The scheduler process's ticker: node-cron, in whole seconds.
import cron from 'node-cron';
import type { Ticker } from './runtime.js';

/**
 * A callback for a once-a-second tick that calls fn on every `seconds`th
 * tick. A cron field cannot say "every 600 seconds" (`*\/600` in the seconds
 * field matches second 0 alone: once a minute), nor "every 7" without a short
 * gap at each minute's turn.
 */
export function everyNthSecond(seconds: number, fn: () => void): () => void {
  let ticks = 0;
  return () => {
    ticks++;
    if (ticks % seconds === 0) fn();
  };
}

export const cronTicker: Ticker = (intervalMs, fn) => {
  const seconds = Math.max(1, Math.round(intervalMs / 1000));
  // Overlap is prevented by the worker, not by node-cron, which would log a warning each time.
  const task = cron.schedule('* * * * * *', everyNthSecond(seconds, fn), { noOverlap: false });
  return { cancel: () => void task.destroy() };
};
