// One operation at a time per key: each caller runs after the previous one on
// the same key has settled (whether it succeeded or not), and a key with
// nothing queued holds no memory. The store and the Paxos acceptor both keep
// their files with exactly one writer per key this way.
export class KeyMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn, fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
