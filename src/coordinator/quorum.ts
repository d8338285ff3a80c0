// Waiting for a quorum: call every target at once, and settle as soon as
// `need` of them succeeded or too many failed for that to happen. The calls
// still under way go on; `rest` settles when every one has answered or failed.
import { replicaFailure, type ReplicaFailure } from '../errors.js';

export interface Answer<T> {
  node: string;
  value: T;
}

export interface QuorumResult<T> {
  ok: Answer<T>[];
  failed: ReplicaFailure[];
  /** Every answer, once all targets have answered or failed (for read repair). */
  rest: Promise<{ ok: Answer<T>[]; failed: ReplicaFailure[] }>;
}

/**
 * `counts` says whether a success counts toward `need` (a hinted copy kept on a
 * node already counted does not); every success is still reported in `ok`.
 */
export function quorum<T>(targets: readonly string[], need: number, call: (node: string) => Promise<T>, counts: (value: T) => boolean = () => true): Promise<QuorumResult<T>> {
  const ok: Answer<T>[] = [];
  const failed: ReplicaFailure[] = [];
  let settle!: (r: QuorumResult<T>) => void;
  const settled = new Promise<QuorumResult<T>>((res) => (settle = res));
  let done = false;
  let remaining = targets.length;
  let counted = 0;
  let finishAll!: () => void;
  const rest = new Promise<{ ok: Answer<T>[]; failed: ReplicaFailure[] }>((res) => (finishAll = () => res({ ok: [...ok], failed: [...failed] })));
  const check = (): void => {
    if (remaining === 0) finishAll();
    if (done) return;
    if (counted >= need || counted + remaining < need || remaining === 0) {
      done = true;
      settle({ ok: [...ok], failed: [...failed], rest });
    }
  };
  for (const node of targets) {
    call(node).then(
      (value) => {
        ok.push({ node, value });
        if (counts(value)) counted++;
        remaining--;
        check();
      },
      (err: unknown) => {
        failed.push(replicaFailure(node, err));
        remaining--;
        check();
      },
    );
  }
  check(); // nothing needed (W=1 after the mint, or no targets): settle at once
  return settled;
}
