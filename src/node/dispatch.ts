// The dispatch table of the socket server: one handler per request type, and an
// exhaustive switch so a new message type cannot be forgotten.
import type { RequestHandler } from '../net/transport.js';
import type { NodeContext } from './context.js';
import { handleGossip } from './handlers/gossip.js';
import { handleHintDrop } from './handlers/hint-drop.js';
import { handleHints } from './handlers/hints.js';
import { handleList } from './handlers/list.js';
import { handlePing } from './handlers/ping.js';
import { handleRead } from './handlers/read.js';
import { handleSync } from './handlers/sync.js';
import { handleUpdate } from './handlers/update.js';
import { handleStats, handleView, handleViewPush } from './handlers/view.js';

export function dispatcher(ctx: NodeContext): RequestHandler {
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
      case 'gossip':
        return handleGossip(ctx, m);
      case 'view_push':
        return handleViewPush(ctx, m);
      case 'view':
        return handleView(ctx, m);
      case 'stats':
        return handleStats(ctx, m);
      case 'hints':
        return handleHints(ctx, m);
      case 'hint_drop':
        return handleHintDrop(ctx, m);
      default: {
        const unexpected: never = m;
        throw new Error(`unexpected request ${JSON.stringify(unexpected)}`);
      }
    }
  };
}
