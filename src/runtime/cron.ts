// The scheduler process's ticker: node-cron, in whole seconds.
import cron from 'node-cron';
import type { Ticker } from './runtime.js';

export const cronTicker: Ticker = (intervalMs, fn) => {
  const seconds = Math.max(1, Math.round(intervalMs / 1000));
  // Overlap is prevented by the worker, not by node-cron, which would log a warning each time.
  const task = cron.schedule(`*/${seconds} * * * * *`, fn, { noOverlap: false });
  return { cancel: () => void task.destroy() };
};
