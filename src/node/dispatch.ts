// The dispatch table of the socket server: one handler per request type, and an
// exhaustive switch so a new message type cannot be forgotten. A disk that
// fails under a handler fails that request with a code that says so (a full
// disk, an I/O error), never the process; writes are refused up front while
// the disk is read-only.
import type { RequestHandler } from '../net/transport.js';
import type { NodeContext } from './context.js';
import { handleChunkCollect, handleChunkedFiles, handleChunkGcCandidates, handleChunkGet, handleChunkHas, handleChunkHintDrop, handleChunkHints, handleChunkPut, handleChunkRefs, handleChunkReport } from './handlers/chunks.js';
import { handleGossip } from './handlers/gossip.js';
import { handleHintDrop } from './handlers/hint-drop.js';
import { handleHints } from './handlers/hints.js';
import { handleList } from './handlers/list.js';
import { handlePaxosAccept, handlePaxosCommit, handlePaxosAdopt, handlePaxosDump, handlePaxosPrepare, handlePaxosRead, handlePaxosWatch } from './handlers/paxos.js';
import { handleListPage } from './handlers/list-page.js';
import { handleMembershipGet, handleMembershipPut } from './handlers/membership.js';
import { handleMerkle, handlePartitionDrop, handlePartitionKeys } from './handlers/partitions.js';
import { handlePing } from './handlers/ping.js';
import { handleRead } from './handlers/read.js';
import { handleSync } from './handlers/sync.js';
import { handleUpdate } from './handlers/update.js';
import { handleStats, handleSupervisorReport, handleView, handleViewPush } from './handlers/view.js';

/** The requests that change what this node stores. */
const WRITES = new Set(['update', 'sync', 'hint_drop', 'membership_put', 'partition_drop', 'paxos_prepare', 'paxos_accept', 'paxos_commit', 'paxos_adopt', 'chunk_put', 'chunk_hint_drop']);

export function dispatcher(ctx: NodeContext): RequestHandler {
  const handle = route(ctx);
  return async (m, body) => {
    const writes = WRITES.has(m.type);
    if (writes) ctx.disk.checkWritable();
    const syncs = ctx.journal.stats.syncs;
    try {
      const result = await handle(m, body);
      // Something reached the disk (a journal fsync went through): a full disk has room again.
      if (writes && ctx.journal.stats.syncs > syncs) ctx.disk.wrote();
      return result;
    } catch (err) {
      throw ctx.disk.fault(err) ?? err;
    }
  };
}

function route(ctx: NodeContext): RequestHandler {
  return async (m, body) => {
    switch (m.type) {
      case 'ping':
        return handlePing(ctx, m);
      case 'read':
        return handleRead(ctx, m);
      case 'update':
        return handleUpdate(ctx, m, body);
      case 'sync':
        return handleSync(ctx, m, body);
      case 'list':
        return handleList(ctx, m);
      case 'list_page':
        return handleListPage(ctx, m);
      case 'gossip':
        return handleGossip(ctx, m);
      case 'view_push':
        return handleViewPush(ctx, m);
      case 'view':
        return handleView(ctx, m);
      case 'stats':
        return handleStats(ctx, m);
      case 'supervisor_report':
        return handleSupervisorReport(ctx, m);
      case 'membership_get':
        return handleMembershipGet(ctx, m);
      case 'membership_put':
        return handleMembershipPut(ctx, m);
      case 'partition_keys':
        return handlePartitionKeys(ctx, m);
      case 'partition_drop':
        return handlePartitionDrop(ctx, m);
      case 'merkle':
        return handleMerkle(ctx, m);
      case 'paxos_prepare':
        return handlePaxosPrepare(ctx, m);
      case 'paxos_accept':
        return handlePaxosAccept(ctx, m);
      case 'paxos_commit':
        return handlePaxosCommit(ctx, m);
      case 'paxos_read':
        return handlePaxosRead(ctx, m);
      case 'paxos_watch':
        return handlePaxosWatch(ctx, m);
      case 'paxos_dump':
        return handlePaxosDump(ctx, m);
      case 'paxos_adopt':
        return handlePaxosAdopt(ctx, m);
      case 'hints':
        return handleHints(ctx, m);
      case 'hint_drop':
        return handleHintDrop(ctx, m);
      case 'chunk_put':
        return handleChunkPut(ctx, m, body);
      case 'chunk_get':
        return handleChunkGet(ctx, m);
      case 'chunk_has':
        return handleChunkHas(ctx, m);
      case 'chunk_hints':
        return handleChunkHints(ctx, m);
      case 'chunk_hint_drop':
        return handleChunkHintDrop(ctx, m);
      case 'chunked_files':
        return handleChunkedFiles(ctx, m);
      case 'chunk_report':
        return handleChunkReport(ctx, m);
      case 'chunk_gc_candidates':
        return handleChunkGcCandidates(ctx, m);
      case 'chunk_refs':
        return handleChunkRefs(ctx, m);
      case 'chunk_collect':
        return handleChunkCollect(ctx, m);
      default: {
        const unexpected: never = m;
        throw new Error(`unexpected request ${JSON.stringify(unexpected)}`);
      }
    }
  };
}
