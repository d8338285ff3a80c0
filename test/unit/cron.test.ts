// The scheduler's ticker fires a worker every `intervalMs`, also past a minute
// (anti-entropy's default is ten): node-cron's `*/600` seconds field fired it every minute.
import t from 'tap';
import { everyNthSecond } from '../../src/runtime/cron.js';

t.test('an interval of 600 s fires on every 600th tick of the second, and not before', async (t) => {
  const fired: number[] = [];
  let second = 0;
  const tick = everyNthSecond(600, () => fired.push(second));
  for (second = 1; second <= 1800; second++) tick();
  t.same(fired, [600, 1200, 1800]);
});

t.test('an interval that does not divide a minute keeps its gaps at the turn of each minute', async (t) => {
  const fired: number[] = [];
  let second = 0;
  const tick = everyNthSecond(7, () => fired.push(second));
  for (second = 1; second <= 130; second++) tick();
  t.same(fired.slice(1).map((s, i) => s - (fired[i] as number)), Array.from({ length: fired.length - 1 }, () => 7));
});
