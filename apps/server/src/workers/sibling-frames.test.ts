import { describe, expect, it } from 'vitest';
import { answerFrame, FrameFields, FrameKind, FrameReader, requestFrame, signalFrame } from './sibling-frames.js';

/** The frames `bytes` splits into when they arrive in chunks of `size`. */
function read(bytes: Buffer, size: number, maxBytes = 1 << 20): { frames: FrameFields[]; broken: boolean } {
  const frames: FrameFields[] = [];
  let broken = false;
  const reader = new FrameReader(
    maxBytes,
    (frame) => frames.push(new FrameFields(Buffer.from(frame))),
    () => (broken = true),
  );
  for (let at = 0; at < bytes.length && !broken; at += size) reader.push(bytes.subarray(at, at + size));
  return { frames, broken };
}

describe('sibling channel frames', () => {
  const request = requestFrame(
    7,
    { method: 'POST', path: '/api/v1/streams/send', hop: 1, grant: 'send é', signature: '' },
    '{"a":"ü"}',
  );
  const answer = answerFrame(7, 503, 'application/json; charset=utf-8', '1', Buffer.from('{"code":"MEMORY_FULL"}'));
  const stream = Buffer.concat([request, signalFrame(FrameKind.Cancel, 8), answer, answerFrame(9, 200, '', '', 'ok')]);

  it('reads back what was written, however the bytes are split into chunks', () => {
    for (const size of [1, 2, 3, 5, 17, request.length, stream.length]) {
      const { frames, broken } = read(stream, size);
      expect(broken).toBe(false);
      expect(frames.map((f) => [f.kind, f.id])).toEqual([
        [FrameKind.Request, 7],
        [FrameKind.Cancel, 8],
        [FrameKind.Answer, 7],
        [FrameKind.Answer, 9],
      ]);
      const [req, , ans, plain] = frames;
      expect([req.u8(), req.u16(), req.string(), req.string(), req.string()]).toEqual([
        1,
        1,
        '/api/v1/streams/send',
        'send é',
        '',
      ]);
      expect(req.rest().toString()).toBe('{"a":"ü"}');
      expect([ans.u16(), ans.string(), ans.string(), ans.rest().toString()]).toEqual([
        503,
        'application/json; charset=utf-8',
        '1',
        '{"code":"MEMORY_FULL"}',
      ]);
      expect([plain.u16(), plain.string(), plain.string(), plain.rest().toString()]).toEqual([200, '', '', 'ok']);
    }
  });

  it('takes a frame longer than the limit, or too short to hold its kind and id, for a broken stream', () => {
    expect(read(request, 4, request.length - 5).broken).toBe(true);
    expect(read(request, 4, request.length - 4).broken).toBe(false);
    expect(read(Buffer.from([0, 0, 0, 2, 1, 1]), 6).broken).toBe(true);
  });
});
