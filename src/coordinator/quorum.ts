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

export function quorum<T>(targets: readonly string[], need: number, call: (node: string) => Promise<T>): Promise<QuorumResult<T>> {
  const ok: Answer<T>[] = [];
  const failed: ReplicaFailure[] = [];
  let settle!: (r: QuorumResult<T>) => void;
  const settled = new Promise<QuorumResult<T>>((res) => (settle = res));
  let done = false;
  let remaining = targets.length;
  let finishAll!: () => void;
  const rest = new Promise<{ ok: Answer<T>[]; failed: ReplicaFailure[] }>((res) => (finishAll = () => res({ ok: [...ok], failed: [...failed] })));
  const check = (): void => {
    if (remaining === 0) finishAll();
    if (done) return;
    if (ok.length >= need || ok.length + remaining < need || remaining === 0) {
      done = true;
      settle({ ok: [...ok], failed: [...failed], rest });
    }
  };
  if (targets.length === 0) check();
  for (const node of targets) {
    call(node).then(
      (value) => {
        ok.push({ node, value });
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
  return settled;
}
