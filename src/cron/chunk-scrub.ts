// The chunk scrub: every chunkScrub.intervalMs, each version in chunks of each
// large file this machine's socket server holds (chunked_files) has its chunk
// list read, and every chunk is looked for on every live member (chunk_has).
// An owner of a chunk that lacks it gets a copy from a node that has it (read
// back and checked against its name), so a lost disk or a deleted file is made
// good; then the version is reported to the socket server as complete (every
// chunk on W nodes) or not, which listing pages show. Chunks that cannot be
// checked this round (a member did not answer) leave the report as it was.
import { dotId } from '../clock/dvv.js';
import { CHUNKS_NS } from '../protocol/messages.js';
import { collectBodies } from '../replica/deliver.js';
import { objectKey } from '../ring/hash.js';
import { Ring } from '../ring/ring.js';
import { chunkNames } from '../storage/chunks.js';
import { fetchGoodChunk } from '../replica/chunk-fetch.js';
import { peerAddress, type SchedulerContext } from './context.js';

const PAGE = 64;
/** Hashes asked of a node per chunk_has. */
const ASK = 10_000;

export async function chunkScrubRound(ctx: SchedulerContext, signal: AbortSignal): Promise<string> {
  const self = peerAddress(ctx, ctx.self);
  let versions = 0;
  let copied = 0;
  let incomplete = 0;
  let unchecked = 0;
  const rings = ctx.env.membership.layouts.map((l) => new Ring({ version: l.epoch, replicas: l.replicas }));
  let after: [string, string] | undefined;
  do {
    const { reply } = await ctx.transport.request(self, { type: 'chunked_files', limit: PAGE, ...(after ? { after } : {}) });
    for (const { ns, key, state } of reply.entries) {
      for (const s of state.siblings) {
        if (!s.chunked || s.deleted || signal.aborted) continue;
        const dot = dotId(s.dot);
        const read = await ctx.transport.request(self, { type: 'read', ns, key, bodies: [dot] });
        const list = collectBodies(read.reply.bodies, read.body).get(dot);
        if (!list) continue; // changed since it was listed: the next round sees it
        const found = await scrubChunks(ctx, rings, chunkNames(list));
        copied += found.copied;
        versions++;
        if (found.complete === null) {
          unchecked++;
          continue;
        }
        if (!found.complete) incomplete++;
        await ctx.transport.request(self, { type: 'chunk_report', ns, key, dot, complete: found.complete });
      }
    }
    after = reply.next ?? undefined;
  } while (after !== undefined && !signal.aborted);
  if (copied > 0 || incomplete > 0) ctx.log.info('chunk scrub', { versions, copied, incomplete, unchecked });
  return `${versions} version(s) in chunks checked, ${copied} chunk cop${copied === 1 ? 'y' : 'ies'} made, ${incomplete} incomplete${unchecked ? `, ${unchecked} not checked (a member did not answer)` : ''}`;
}

/** The owners of a chunk in every live layout (rings built once a round: a ring precomputes every partition's walk). */
function chunkOwners(rings: readonly Ring[], n: number, hash: string): string[] {
  const k = objectKey(CHUNKS_NS, hash);
  return [...new Set(rings.flatMap((r) => r.preferenceList(k).slice(0, n)))];
}

/**
 * Where each chunk is, copies made to its owners that lack it, and whether
 * every chunk is on W nodes (null: some member did not answer, so it is not
 * known).
 */
async function scrubChunks(ctx: SchedulerContext, rings: readonly Ring[], all: readonly string[]): Promise<{ copied: number; complete: boolean | null }> {
  const hashes = [...new Set(all)];
  const members = ctx.env.membership.ids;
  const holders = new Map<string, Set<string>>(hashes.map((h) => [h, new Set()]));
  let answered = true;
  for (const node of members) {
    try {
      for (let i = 0; i < hashes.length; i += ASK) {
        const part = hashes.slice(i, i + ASK);
        const { reply } = await ctx.transport.request(peerAddress(ctx, node), { type: 'chunk_has', hashes: part });
        part.forEach((h, j) => reply.present[j] && holders.get(h)?.add(node));
      }
    } catch {
      answered = false;
    }
  }
  let copied = 0;
  for (const h of hashes) {
    const have = holders.get(h) as Set<string>;
    const lacking = chunkOwners(rings, ctx.config.replication.n, h).filter((o) => !have.has(o));
    if (lacking.length === 0 || have.size === 0) continue;
    const { bytes } = await fetchGoodChunk(ctx.transport, h, [...have], (n) => peerAddress(ctx, n));
    if (!bytes) continue;
    for (const o of lacking) {
      try {
        await ctx.transport.request(peerAddress(ctx, o), { type: 'chunk_put', hash: h, size: bytes.length }, [bytes]);
        have.add(o);
        copied++;
      } catch {
        // down or failing: the next round tries again
      }
    }
  }
  const w = ctx.config.replication.w;
  const complete = hashes.every((h) => (holders.get(h) as Set<string>).size >= w);
  // Some chunk short of W while a member did not answer: it may be there; not known.
  return { copied, complete: complete ? true : answered ? false : null };
}
