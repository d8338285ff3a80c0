// A simulated client's call with its own deadline: the answer, its error code,
// or CLIENT_TIMEOUT once `ms` of simulated time pass (its machine may have
// died; a call whose answer comes later is then ignored).
import { asRingstoreError } from '../errors.js';
import type { Owner, SimLoop } from './loop.js';

/** How long a simulated client waits for an answer. */
export const CLIENT_TIMEOUT_MS = 8000;

export type Answer = { ok: true; value: string } | { ok: false; code: string; message: string };

export function answerWithin(loop: SimLoop, owner: Owner, ms: number, p: Promise<string>): Promise<Answer> {
  return new Promise((resolve) => {
    let done = false;
    loop.schedule(ms, () => {
      if (!done) resolve({ ok: false, code: 'CLIENT_TIMEOUT', message: 'no answer (its machine may have died)' });
      done = true;
    }, owner);
    p.then(
      (value) => {
        if (!done) resolve({ ok: true, value });
        done = true;
      },
      (err: unknown) => {
        const e = asRingstoreError(err);
        if (!done) resolve({ ok: false, code: e.code, message: e.message });
        done = true;
      },
    );
  });
}
