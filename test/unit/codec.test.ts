import t from 'tap';
import fc from 'fast-check';
import { FrameDecoder, encodeFrame, isFault, splitBodies, type Decoded, type Frame } from '../../src/protocol/codec.js';
import { RingstoreError } from '../../src/errors.js';

const frames = (ds: Decoded[]): Frame[] => ds.filter((d): d is Frame => !isFault(d));

t.test('one frame round-trips, with its body as raw bytes after the JSON', async (t) => {
  const body = Buffer.from([0, 1, 2, 255, 10, 13]);
  const wire = Buffer.concat(encodeFrame({ type: 'ping', id: 'a' }, [body]));
  t.equal(wire.readUInt32BE(0), wire.length - 4, 'the length prefix counts everything after it');
  t.ok(wire.includes(body), 'the body is on the wire as it is, not base64');
  const out = frames(new FrameDecoder(1 << 20).push(wire));
  t.equal(out.length, 1);
  t.same(out[0]?.json, { type: 'ping', id: 'a' });
  t.same(out[0]?.body, body);
});

t.test('frames split one byte at a time, and many frames in one chunk', async (t) => {
  const msgs = Array.from({ length: 20 }, (_, i) => ({ i, s: 'x'.repeat(i * 7) }));
  const wire = Buffer.concat(msgs.flatMap((m, i) => encodeFrame(m, [Buffer.alloc(i, i)])));
  const dec = new FrameDecoder(1 << 20);
  const got: Frame[] = [];
  for (const byte of wire) got.push(...frames(dec.push(Buffer.from([byte]))));
  t.same(got.map((f) => f.json), msgs);
  t.same(got.map((f) => f.body.length), msgs.map((_, i) => i));
  t.equal(dec.pendingBytes, 0);
  const all = frames(new FrameDecoder(1 << 20).push(wire));
  t.same(all.map((f) => f.json), msgs, 'all frames from one chunk');
});

t.test('any chunking yields the same frames (property)', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.dictionary(fc.string(), fc.string()), fc.uint8Array({ maxLength: 64 })), { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
      (msgs, cuts) => {
        const wire = Buffer.concat(msgs.flatMap(([m, b]) => encodeFrame(m, [Buffer.from(b)])));
        const dec = new FrameDecoder(1 << 20);
        const got: Frame[] = [];
        let off = 0;
        let i = 0;
        while (off < wire.length) {
          const n = cuts[i++ % cuts.length] as number;
          got.push(...frames(dec.push(wire.subarray(off, off + n))));
          off += n;
        }
        return JSON.stringify(got.map((f) => [f.json, [...f.body]])) === JSON.stringify(msgs.map(([m, b]) => [m, [...b]]));
      },
    ),
  );
  t.pass('property held');
});

t.test('an oversized length is refused before any of it is buffered', async (t) => {
  const dec = new FrameDecoder(1024);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(0x80000000, 0); // 2 GiB
  t.throws(() => dec.push(head), { code: 'FRAME_TOO_LARGE' });
  t.equal(dec.pendingBytes, 0);
});

t.test('a too-short length is a bad frame', async (t) => {
  const dec = new FrameDecoder(1024);
  t.throws(() => dec.push(Buffer.from([0, 0, 0, 2, 0, 0])), { code: 'BAD_FRAME' });
});

t.test('bad JSON, non-object JSON and a lying JSON length are faults, and the next frame still decodes', async (t) => {
  const bad = (json: Buffer, jsonLen = json.length): Buffer => {
    const b = Buffer.alloc(8 + json.length);
    b.writeUInt32BE(4 + json.length, 0);
    b.writeUInt32BE(jsonLen, 4);
    json.copy(b, 8);
    return b;
  };
  const dec = new FrameDecoder(1024);
  const out = dec.push(
    Buffer.concat([bad(Buffer.from('{nope')), bad(Buffer.from('[1,2]')), bad(Buffer.from('{}'), 999), ...encodeFrame({ ok: true })]),
  );
  t.equal(out.length, 4);
  t.ok(isFault(out[0] as Decoded) && isFault(out[1] as Decoded) && isFault(out[2] as Decoded));
  t.same((out[3] as Frame).json, { ok: true });
});

t.test('random bytes never throw anything but a RingstoreError (property)', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const dec = new FrameDecoder(256);
      try {
        dec.push(Buffer.from(bytes));
      } catch (err) {
        return err instanceof RingstoreError;
      }
      return dec.pendingBytes <= 260;
    }),
  );
  t.pass('property held');
});

t.test('splitBodies cuts a frame body by the sizes listed', async (t) => {
  const parts = splitBodies([{ size: 2 }, { size: 0 }, { size: 3 }], Buffer.from('abcde'));
  t.same(parts.map(String), ['ab', '', 'cde']);
});
