// Fuzzing the frame decoder: random bytes in random chunk splits never make it
// throw anything but its own error, and it never holds more than the limit.
import t from 'tap';
import fc from 'fast-check';
import { FrameDecoder, encodeFrame, isFault } from '../../src/protocol/codec.js';
import { RingstoreError } from '../../src/errors.js';
import { fuzzParams } from '../helpers/fuzz.js';

const LIMIT = 512;

t.test('random bytes, random splits: only RingstoreError, never past the limit', async (t) => {
  let cases = 0;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 30 }), (bytes, cuts) => {
      cases++;
      const dec = new FrameDecoder(LIMIT);
      let off = 0;
      let i = 0;
      try {
        while (off < bytes.length) {
          const n = cuts[i++ % cuts.length] as number;
          const out = dec.pushRaw(Buffer.from(bytes.subarray(off, off + n)));
          off += n;
          for (const payload of out) if (payload.length > LIMIT) return false;
          // Buffered bytes: at most one frame's worth (limit + prefix) plus the chunk just pushed.
          if (dec.pendingBytes > LIMIT + 4 + n) return false;
        }
      } catch (err) {
        return err instanceof RingstoreError && (err.code === 'FRAME_TOO_LARGE' || err.code === 'BAD_FRAME');
      }
      return true;
    }),
    fuzzParams(3000),
  );
  t.comment(`${cases} cases`);
  t.pass('held');
});

t.test('valid frames among garbage-filled bodies decode exactly', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.jsonValue(), fc.uint8Array({ maxLength: 100 })), { maxLength: 5 }), fc.integer({ min: 1, max: 64 }), (items, chunk) => {
      const msgs = items.map(([v, b]) => [{ v }, Buffer.from(b)] as const);
      const wire = Buffer.concat(msgs.flatMap(([m, b]) => encodeFrame(m, [b])));
      const dec = new FrameDecoder(1 << 20);
      const got = [];
      for (let off = 0; off < wire.length; off += chunk) got.push(...dec.push(wire.subarray(off, off + chunk)));
      return got.length === msgs.length && got.every((g, i) => !isFault(g) && JSON.stringify(g.json) === JSON.stringify(msgs[i]![0]) && g.body.equals(msgs[i]![1]));
    }),
    fuzzParams(1000),
  );
  t.pass('held');
});
