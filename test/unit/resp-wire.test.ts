import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/measure/random.js';
import { RespProtocolError, RespReader, type RespReply } from '../../src/targets/resp.js';
import { CommandBatch, RespParser, WireError, type Wire } from '../../src/targets/resp-wire.js';

/** The capability probe's reader (resp.ts), written separately, as the reference: its replies in the fast parser's shape. */
function reference(reply: RespReply): Wire {
  switch (reply.type) {
    case 'simple': return reply.value;
    case 'error': return new WireError(reply.message);
    case 'integer': return Number(reply.value);
    case 'bulk': return reply.value;
    case 'null': return null;
    case 'array': return reply.items.map(reference);
    default: throw new Error(`not RESP2: ${reply.type}`);
  }
}

function referenceRead(bytes: Buffer): Wire[] {
  const reader = new RespReader();
  reader.push(bytes);
  const out: Wire[] = [];
  for (let r = reader.next(); r !== undefined; r = reader.next()) out.push(reference(r));
  assert.equal(reader.buffered, 0);
  return out;
}

/** Feeds `chunks` to one parser; every reply, copied (a bulk string handed out may share the chunk's memory). */
function parse(chunks: readonly Buffer[], maxBytes = 1 << 20): { replies: Wire[]; buffered: number } {
  const parser = new RespParser(maxBytes);
  const replies: Wire[] = [];
  for (const chunk of chunks) parser.feed(chunk, (r) => replies.push(r));
  return { replies, buffered: parser.buffered };
}

/** Random RESP2 replies as bytes: values with CR, LF and CRLF inside, nulls, errors, integers, nested arrays. */
function randomReplies(random: () => number, count: number): Buffer {
  const parts: Buffer[] = [];
  const one = (depth: number): void => {
    const kind = Math.floor(random() * (depth < 3 ? 7 : 6));
    if (kind === 0) parts.push(Buffer.from(`+OK${Math.floor(random() * 100)}\r\n`));
    else if (kind === 1) parts.push(Buffer.from(`-MOVED ${Math.floor(random() * 16384)} 127.0.0.1:7000\r\n`));
    else if (kind === 2) parts.push(Buffer.from(`:${Math.floor(random() * 2e9) - 1e9}\r\n`));
    else if (kind === 3) parts.push(Buffer.from('$-1\r\n'));
    else if (kind === 4 || kind === 5) {
      const length = random() < 0.2 ? Math.floor(random() * 70_000) : Math.floor(random() * 40);
      const value = Buffer.alloc(length);
      for (let i = 0; i < length; i++) value[i] = random() < 0.1 ? [13, 10][i % 2] as number : Math.floor(random() * 256);
      parts.push(Buffer.from(`$${length}\r\n`), value, Buffer.from('\r\n'));
    } else {
      const n = Math.floor(random() * 4);
      parts.push(Buffer.from(`*${n}\r\n`));
      for (let i = 0; i < n; i++) one(depth + 1);
    }
  };
  for (let i = 0; i < count; i++) one(0);
  return Buffer.concat(parts);
}

/** A deep copy of a reply (the parser may hand out views of the read buffer). */
const own = (w: Wire): Wire => (Buffer.isBuffer(w) ? Buffer.from(w) : Array.isArray(w) ? w.map(own) : w);

describe('RespParser (the own client\'s reply reader)', () => {
  it('reads what the capability probe\'s reader reads, whatever the chunk boundaries (200 random streams)', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 200; round++) {
      const bytes = randomReplies(random, 1 + Math.floor(random() * 20));
      const expected = referenceRead(bytes);
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length;) {
        const size = 1 + Math.floor(random() * (random() < 0.5 ? 8 : 20_000));
        chunks.push(bytes.subarray(at, at + size));
        at += size;
      }
      const read = parse(chunks);
      assert.deepEqual(read.replies, expected, `round ${round}`);
      assert.equal(read.buffered, 0);
    }
  });

  it('a value with CRLF inside, split at every byte: byte-exact', () => {
    const value = Buffer.from('a\r\nb\r\n\r\n\0\xff$3\r\n', 'latin1');
    const bytes = Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n:5\r\n')]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(parse([bytes.subarray(0, cut), bytes.subarray(cut)]).replies, [value, 5], `cut at ${cut}`);
    }
    assert.deepEqual(parse([...bytes].map((b) => Buffer.from([b]))).replies, [value, 5]);
  });

  it('a bulk string that lies whole in one chunk is handed out without a copy', () => {
    const chunk = Buffer.from('$5\r\nhello\r\n');
    let got: Wire = null;
    new RespParser(100).feed(chunk, (r) => (got = r));
    assert.ok(Buffer.isBuffer(got));
    assert.equal((got as Buffer).buffer, chunk.buffer, 'the same memory as the received bytes');
    assert.equal((got as Buffer).toString(), 'hello');
  });

  it('refuses what is not RESP2, and replies beyond its limit, before holding them', () => {
    for (const [bytes, why] of [
      ['%1\r\n', /byte 37/], ['$5\r\nhelloXX', /not followed by CRLF/], ['$200\r\n', /bulk string of 200 bytes/], ['*-5\r\n', /impossible length/],
      [':12a\r\n', /not a number/], ['+OK\rX', /CR not followed by LF/], ['*1\r\n'.repeat(20), /nested deeper/],
    ] as const) {
      assert.throws(() => parse([Buffer.from(bytes)], 100), (e: unknown) => e instanceof RespProtocolError && why.test(e.message), bytes);
    }
    // A line that never ends: refused once it passes 64 KiB, not held forever.
    assert.throws(() => parse([Buffer.from(`+${'x'.repeat(70_000)}`)], 1 << 20), /line without CRLF/);
    // An array whose items trickle in is read item by item, bounded by what it holds: its bytes and 64 per item (an
    // item costs memory beyond its bytes), at least 64 MiB, and at most 2^20 items (a server cannot exhaust the heap).
    const parser = new RespParser(1000);
    assert.throws(() => {
      parser.feed(Buffer.from('*1000000\r\n'), () => undefined);
      const empties = Buffer.from('$0\r\n\r\n'.repeat(1000));
      for (let i = 0; i < 1000; i++) parser.feed(empties, () => undefined);
    }, /a reply of more than 67108864 bytes \(with 64 per item\)/);
    assert.throws(() => parse([Buffer.from('*2000000\r\n')], 1000), /impossible length/);
  });

  it('an array (EXEC\'s, a script\'s, an MGET\'s) larger than any chunk: read in one pass, its items kept whole when the read buffer is reused', () => {
    const values = Array.from({ length: 40 }, (_, i) => Buffer.alloc(20_000 + i, i));
    const bytes = Buffer.concat([Buffer.from('*3\r\n+OK\r\n'), Buffer.from(`*${values.length}\r\n`),
      ...values.flatMap((v) => [Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')]), Buffer.from(':7\r\n:1\r\n')]);
    const expected = [['OK', values, 7], 1];
    for (const size of [1, 7, 1000, 65_536, 300_000]) {
      const parser = new RespParser(64 * 1024);
      const replies: Wire[] = [];
      // One read buffer, overwritten by every read, as the connection's is.
      const readBuffer = Buffer.alloc(size);
      for (let at = 0; at < bytes.length; at += size) {
        const n = bytes.copy(readBuffer, 0, at, Math.min(at + size, bytes.length));
        parser.feed(readBuffer.subarray(0, n), (r) => replies.push(own(r)));
      }
      assert.deepEqual(replies, expected, `chunks of ${size}`);
      assert.equal(parser.buffered, 0);
    }
    // A 100,000-item array in 10-byte chunks: its items taken as they come (each chunk parsed once).
    const many = Buffer.concat([Buffer.from('*100000\r\n'), Buffer.from(':1\r\n'.repeat(100_000))]);
    const read = parse(Array.from({ length: Math.ceil(many.length / 10) }, (_, i) => many.subarray(i * 10, i * 10 + 10)));
    assert.deepEqual(read.replies, [Array.from({ length: 100_000 }, () => 1)]);
  });
});

describe('CommandBatch (the own client\'s request writer)', () => {
  it('several commands of strings, numbers and binary values are one buffer of RESP arrays that a reader reads back exactly', () => {
    const value = Buffer.from([0, 13, 10, 255, 36, 13, 10]);
    const batch = new CommandBatch();
    assert.equal(batch.empty, true);
    batch.add(['SET', 'cachebench:é', value, 'EX', 600]);
    batch.add(['GET', 'k']);
    batch.add(['WAIT', 1, 250]);
    assert.equal(batch.empty, false);
    const bytes = batch.take();
    assert.equal(batch.empty, true);
    assert.deepEqual(referenceRead(bytes), [
      [Buffer.from('SET'), Buffer.from('cachebench:é'), value, Buffer.from('EX'), Buffer.from('600')],
      [Buffer.from('GET'), Buffer.from('k')],
      [Buffer.from('WAIT'), Buffer.from('1'), Buffer.from('250')],
    ]);
    batch.add(['PING']);
    assert.equal(batch.take().toString(), '*1\r\n$4\r\nPING\r\n');
  });
});
