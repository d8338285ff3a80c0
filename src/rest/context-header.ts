// The causal context as clients carry it: an opaque token (base64url of the
// version vector's JSON) in the X-Context header or the `context` form field.
// Raw JSON is accepted too, for people typing it by hand.
import { ErrorCode, RingstoreError } from '../errors.js';
import { vectorSchema, type VersionVectorWire } from '../protocol/messages.js';

export const CONTEXT_HEADER = 'x-context';

export function encodeContext(v: VersionVectorWire): string {
  return Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
}

/** null when absent or empty; INVALID_CONTEXT when present but not a context. */
export function decodeContext(raw: string | undefined | null): VersionVectorWire | null {
  if (raw === undefined || raw === null) return null;
  const text = raw.trim();
  if (text === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text.startsWith('{') ? text : Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new RingstoreError(ErrorCode.INVALID_CONTEXT, 'the context is not one this store issued: send back the X-Context value of a read unchanged');
  }
  const parsed = vectorSchema.safeParse(value);
  if (!parsed.success) {
    throw new RingstoreError(ErrorCode.INVALID_CONTEXT, 'the context is not one this store issued: send back the X-Context value of a read unchanged');
  }
  return parsed.data;
}
