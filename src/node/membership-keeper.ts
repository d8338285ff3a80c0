// The socket server keeps this machine's copy of the membership (see
// ring/membership.ts) in membership.json: the only writer of that file. A newer
// record, whether pushed by the coordinator of a change, fetched by the
// scheduler from a peer, or read back at start-up, is written to disk before it
// is used, so a node never acts on an epoch it could forget in a crash.
import { join } from 'node:path';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Logger } from '../log.js';
import { membershipRecordSchema } from '../protocol/messages.js';
import { recordProblem, type Membership, type MembershipRecord } from '../ring/membership.js';
import type { Volume } from '../storage/volume.js';

export const MEMBERSHIP_JSON = 'membership.json';

export class MembershipKeeper {
  /** Offers are taken one at a time: two newer records never race to the file. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly vol: Volume,
    private readonly dir: string,
    readonly membership: Membership,
    private readonly log: Logger,
  ) {}

  private get file(): string {
    return join(this.dir, MEMBERSHIP_JSON);
  }

  /** At start-up: the record this node kept, if it is newer than the seeds' (a damaged file is reported and left). */
  async load(): Promise<void> {
    let text: string;
    try {
      text = (await this.vol.disk.readFile(this.file)).toString('utf8');
    } catch {
      return; // never changed since the seeds
    }
    try {
      const parsed = membershipRecordSchema.parse(JSON.parse(text)) as MembershipRecord;
      const problem = recordProblem(parsed);
      if (problem) throw new Error(problem);
      if (this.membership.adopt(parsed)) this.log.info('membership from disk', { epoch: parsed.epoch, members: parsed.members.map((m) => m.id) });
    } catch (err) {
      // A peer will hand the current record over by gossip; until then this node acts on the seeds'.
      this.log.error('membership.json is unreadable; waiting for a peer to tell the current membership', { error: (err as Error).message });
    }
  }

  /** A record from elsewhere: kept (on disk, then in use) if newer than ours. Resolves with the epoch held after. */
  offer(record: MembershipRecord): Promise<number> {
    const next = this.chain.then(async () => {
      const cur = this.membership.record;
      const newer = record.epoch > cur.epoch || (record.epoch === cur.epoch && record.layouts.length < cur.layouts.length);
      if (!newer) return cur.epoch;
      const problem = recordProblem(record);
      if (problem) throw new RingstoreError(ErrorCode.BAD_MESSAGE, `membership record of epoch ${record.epoch} is malformed: ${problem}`);
      await this.vol.writeFileAtomic(this.file, `${JSON.stringify(record, null, 1)}\n`);
      if (this.membership.adopt(record)) {
        this.log.info('membership changed', { epoch: record.epoch, members: record.members.map((m) => m.id), live: record.layouts.map((l) => l.epoch) });
      }
      return this.membership.epoch;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}
