// Who this node is on disk: its id, the incarnation chosen when its data dir was
// created, and the ceiling of dot counters it has reserved. A fresh disk gets a
// fresh incarnation, and a restart resumes above the reserved ceiling, so a dot
// is never minted twice (the riak_kv#679 lesson).
import { join } from 'node:path';
import { ErrorCode, RingstoreError } from '../errors.js';
import { MAX_COUNTER } from '../protocol/messages.js';
import { isErrno } from '../runtime/disk.js';
import { randomHex, type Clock, type Random } from '../runtime/runtime.js';
import type { Volume } from './volume.js';

/** Counters are reserved in blocks so that minting does not cost an extra fsync per write. */
const BLOCK = 10_000;

interface IdentityFile {
  v: 1;
  node: string;
  incarnation: string;
  dotCeiling: number;
  /** The socket server's last start (its gossip generation): each start's is higher, whatever the wall clock says. */
  generation?: number;
}

export class Identity {
  private next: number;
  private reserving: Promise<void> | null = null;

  private constructor(
    private readonly vol: Volume,
    private readonly path: string,
    private file: IdentityFile,
  ) {
    this.next = file.dotCeiling + 1;
  }

  get node(): string {
    return this.file.node;
  }

  get incarnation(): string {
    return this.file.incarnation;
  }

  /** Every counter this node has used is at most this. */
  get ceiling(): number {
    return this.file.dotCeiling;
  }

  /**
   * This start's gossip generation: the wall clock, unless that is not past
   * the last start's (the clock went back), then one more than it. Peers take a
   * higher generation as a restart; a lower one they would ignore for ever.
   */
  get generation(): number {
    return this.file.generation ?? 0;
  }

  /** The actor name this node mints dots under. */
  get actor(): string {
    return `${this.file.node}.${this.file.incarnation}`;
  }

  static async open(vol: Volume, random: Random, clock: Clock, dir: string, node: string): Promise<Identity> {
    await vol.mkdirDurable(dir);
    const path = join(dir, 'identity.json');
    let file: IdentityFile;
    try {
      file = JSON.parse((await vol.disk.readFile(path)).toString('utf8')) as IdentityFile;
      if (file.node !== node) {
        throw new RingstoreError(ErrorCode.CONFIG, `${dir} belongs to node ${file.node}, not ${node}`);
      }
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      file = { v: 1, node, incarnation: randomHex(random, 4), dotCeiling: 0 };
    }
    file = { ...file, generation: Math.max(Math.floor(clock.now()), (file.generation ?? 0) + 1) };
    const id = new Identity(vol, path, file);
    // Everything up to the stored ceiling may have been used before a crash: start above it.
    // (The reservation also makes this start's generation durable.) On a full disk the node still
    // starts, to serve reads: minting needs a reservation, so writes are refused until one succeeds.
    try {
      await id.reserve(file.dotCeiling + BLOCK, true);
    } catch (err) {
      if (!isErrno(err, 'ENOSPC') && !isErrno(err, 'EDQUOT')) throw err;
    }
    return id;
  }

  /**
   * A counter never returned before by this incarnation, at least `floor`.
   * Durable: the reservation covering it is on disk before it is returned.
   */
  async mint(floor: number): Promise<number> {
    const n = Math.max(this.next, floor);
    if (n > MAX_COUNTER) throw new RingstoreError(ErrorCode.INVALID_CONTEXT, `version counter ${n} is out of range`);
    this.next = n + 1;
    while (n > this.file.dotCeiling) {
      if (!this.reserving) {
        const target = Math.max(n, this.next) + BLOCK;
        this.reserving = this.reserve(target).finally(() => (this.reserving = null));
      }
      await this.reserving;
    }
    return n;
  }

  private async reserve(ceiling: number, force = false): Promise<void> {
    if (ceiling <= this.file.dotCeiling && !force) return;
    const file = { ...this.file, dotCeiling: ceiling };
    await this.vol.writeFileAtomic(this.path, JSON.stringify(file) + '\n');
    this.file = file;
  }
}
