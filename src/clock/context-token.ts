// The causal context as clients carry it: an opaque token (the REST app's
// X-Context header or `context` form field), holding the version vector and a MAC
// under a key derived from the cluster secret. Only contexts this cluster
// issued are accepted: a forged one could claim versions never seen, and so
// make a write supersede them, or push a node's counters out of range.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCode, RingstoreError } from '../errors.js';
import { vectorSchema, type VersionVectorWire } from '../protocol/messages.js';

const MAC_BYTES = 16;

export function contextKey(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('ringstore-context-v1').digest();
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload, 'utf8').digest().subarray(0, MAC_BYTES);
}

export function encodeContext(key: Buffer, v: VersionVectorWire): string {
  const payload = Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

const invalid = (): RingstoreError =>
  new RingstoreError(ErrorCode.INVALID_CONTEXT, 'the context is not one this cluster issued: send back the X-Context (or "context") value of a read unchanged');

/** null when absent or empty; INVALID_CONTEXT when present but not issued by this cluster. */
export function decodeContext(key: Buffer, raw: string | undefined | null): VersionVectorWire | null {
  if (raw === undefined || raw === null) return null;
  const text = raw.trim();
  if (text === '') return null;
  const dot = text.lastIndexOf('.');
  if (dot <= 0 || text.length > 64 * 1024) throw invalid();
  const payload = text.slice(0, dot);
  const given = Buffer.from(text.slice(dot + 1), 'base64url');
  if (given.length !== MAC_BYTES || !timingSafeEqual(given, mac(key, payload))) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const parsed = vectorSchema.safeParse(value);
  if (!parsed.success) throw invalid();
  return parsed.data;
}
