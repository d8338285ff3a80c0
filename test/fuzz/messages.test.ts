// Fuzzing the message validator: random JSON, and valid messages with random
// fields changed. Every message is either valid by the schema or rejected with
// a BAD_MESSAGE that says what is wrong; nothing else is ever thrown.
import t from 'tap';
import fc from 'fast-check';
import { messageSchema, validateMessage } from '../../src/protocol/messages.js';
import { RingstoreError } from '../../src/errors.js';
import { fuzzParams } from '../helpers/fuzz.js';

const valid = [
  { v: 1, id: 'a', sender: 'node1', type: 'ping' },
  { v: 1, id: 'b', sender: 'node1', type: 'read', ns: 'bucket', key: 'f', bodies: 'all' },
  { v: 1, id: 'c', sender: 'node1', type: 'update', ns: 'bucket', key: 'f', context: { 'node1.ab': 2 }, deleted: false, size: 3 },
  { v: 1, id: 'd', sender: 'node1', type: 'sync', ns: 'bucket', key: 'f', state: { context: {}, siblings: [{ dot: ['node1.ab', 1], size: 1, etag: 'x', ts: 1 }] }, bodies: [] },
  { v: 1, id: 'e', sender: 'node1', type: 'gossip', table: [{ node: 'node2', generation: 1, version: 2, age: 0 }] },
];

function check(raw: unknown): boolean {
  try {
    const m = validateMessage(raw);
    return messageSchema.safeParse(m).success;
  } catch (err) {
    return err instanceof RingstoreError && err.code === 'BAD_MESSAGE' && /^invalid /.test(err.message) && err.message.length < 500;
  }
}

t.test('random JSON is valid or rejected with a clear BAD_MESSAGE', async (t) => {
  let cases = 0;
  fc.assert(
    fc.property(fc.jsonValue(), (raw) => {
      cases++;
      return check(raw);
    }),
    fuzzParams(5000),
  );
  t.comment(`${cases} cases`);
  t.pass('held');
});

t.test('valid messages with one field replaced by anything', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...valid), fc.string({ maxLength: 12 }), fc.jsonValue(), (base, field, value) => {
      const keys = Object.keys(base);
      const k = keys.includes(field) ? field : (keys[field.length % keys.length] as string);
      return check({ ...base, [k]: value });
    }),
    fuzzParams(5000),
  );
  t.pass('held');
});

t.test('the valid samples are valid', async (t) => {
  for (const v of valid) t.doesNotThrow(() => validateMessage(v), v.type);
  t.throws(() => validateMessage({ ...valid[0], type: 'launch' }), { code: 'BAD_MESSAGE', message: /launch/ });
  t.throws(() => validateMessage({ ...valid[1], ns: 'x'.repeat(100) }), { code: 'BAD_MESSAGE', message: /ns/ });
  // Found by the fuzzer in CI: a type that cannot be turned into a string threw a TypeError.
  t.throws(() => validateMessage({ ...valid[0], type: { toString: false } }), { code: 'BAD_MESSAGE', message: /type/ });
});
