import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeReply, encodeCommand, replyFields, replyText, RespProtocolError, RespReader, type RespReply } from '../../src/targets/resp.js';

/** Every reply readable from `bytes` fed as the given chunks, and the bytes left unread. */
function readAll(chunks: readonly Buffer[], maxBytes?: number): { replies: RespReply[]; left: number } {
  const reader = new RespReader(maxBytes);
  const replies: RespReply[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let r = reader.next(); r !== undefined; r = reader.next()) replies.push(r);
  }
  return { replies, left: reader.buffered };
}

/** Reads `wire` whole, split in two at every byte boundary, and one byte at a time; all must give `expected`. */
function assertReads(wire: string | Buffer, expected: readonly RespReply[]): void {
  const bytes = typeof wire === 'string' ? Buffer.from(wire, 'latin1') : wire;
  assert.deepEqual(readAll([bytes]), { replies: expected, left: 0 }, 'whole');
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.deepEqual(readAll([bytes.subarray(0, cut), bytes.subarray(cut)]), { replies: expected, left: 0 }, `split at byte ${cut}`);
  }
  const single = [...bytes].map((b) => Buffer.from([b]));
  assert.deepEqual(readAll(single), { replies: expected, left: 0 }, 'byte by byte');
}

const bulk = (text: string): RespReply => ({ type: 'bulk', value: Buffer.from(text, 'utf8') });
const int = (n: number): RespReply => ({ type: 'integer', value: BigInt(n) });

/** What Redis 7.0.15 answered to HELLO 3 on a standalone server, byte for byte. */
const REDIS7_HELLO3 = '%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:3\r\n'
  + '$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n';
const REDIS7_HELLO3_READ: RespReply = {
  type: 'map',
  entries: [
    [bulk('server'), bulk('redis')], [bulk('version'), bulk('7.0.15')], [bulk('proto'), int(3)], [bulk('id'), int(3)],
    [bulk('mode'), bulk('standalone')], [bulk('role'), bulk('master')], [bulk('modules'), { type: 'array', items: [] }],
  ],
};

describe('RESP2 replies, whole and split at every byte', () => {
  it('simple string', () => assertReads('+OK\r\n', [{ type: 'simple', value: 'OK' }]));
  it('error, without its leading dash', () => assertReads("-ERR unknown command 'HELLO', with args beginning with: '3' \r\n",
    [{ type: 'error', message: "ERR unknown command 'HELLO', with args beginning with: '3' " }]));
  it('integers, negative and beyond 2^53', () => assertReads(':0\r\n:-12\r\n:9223372036854775807\r\n',
    [int(0), int(-12), { type: 'integer', value: 9223372036854775807n }]));
  it('bulk strings, empty, binary (holding CRLF) and null', () => assertReads(Buffer.concat([
    Buffer.from('$0\r\n\r\n$4\r\n'), Buffer.from([0x0d, 0x0a, 0x00, 0xff]), Buffer.from('\r\n$-1\r\n'),
  ]), [bulk(''), { type: 'bulk', value: Buffer.from([0x0d, 0x0a, 0x00, 0xff]) }, { type: 'null' }]));
  it('a multi-byte UTF-8 bulk string', () => assertReads(Buffer.from('$5\r\né€\r\n', 'utf8'), [bulk('é€')]));
  it('arrays: empty, null, nested (a CLUSTER SLOTS answer of Redis 7)', () => assertReads(
    '*0\r\n*-1\r\n*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$0\r\n\r\n:16393\r\n$40\r\n0416626bcd29651597ccd9d52a5091b45290aca4\r\n%0\r\n',
    [{ type: 'array', items: [] }, { type: 'null' }, {
      type: 'array',
      items: [{ type: 'array', items: [int(0), int(16383), { type: 'array', items: [bulk(''), int(16393), bulk('0416626bcd29651597ccd9d52a5091b45290aca4'), { type: 'map', entries: [] }] }] }],
    }]));
  it('HELLO 2: a flat key/value array, read as fields', () => {
    const reader = new RespReader();
    reader.push(Buffer.from('*4\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:2\r\n'));
    const reply = reader.next();
    assert.ok(reply !== undefined);
    const fields = replyFields(reply);
    assert.equal(replyText(fields.get('server') as RespReply), 'redis');
    assert.deepEqual(fields.get('proto'), int(2));
  });
});

describe('RESP3 replies, whole and split at every byte', () => {
  it("Redis 7's HELLO 3 map", () => {
    assertReads(REDIS7_HELLO3, [REDIS7_HELLO3_READ]);
    const fields = replyFields(REDIS7_HELLO3_READ);
    assert.equal(replyText(fields.get('server') as RespReply), 'redis');
    assert.equal(replyText(fields.get('version') as RespReply), '7.0.15');
  });
  it('null', () => assertReads('_\r\n', [{ type: 'null' }]));
  it('booleans', () => assertReads('#t\r\n#f\r\n', [{ type: 'boolean', value: true }, { type: 'boolean', value: false }]));
  it('doubles, with inf, -inf, nan and exponents', () => assertReads(',1.23\r\n,-0.5\r\n,10\r\n,1e3\r\n,inf\r\n,-inf\r\n,nan\r\n', [
    { type: 'double', value: 1.23 }, { type: 'double', value: -0.5 }, { type: 'double', value: 10 }, { type: 'double', value: 1000 },
    { type: 'double', value: Infinity }, { type: 'double', value: -Infinity }, { type: 'double', value: NaN },
  ]));
  it('big number', () => assertReads('(3492890328409238509324850943850943825024385\r\n', [{ type: 'bignum', value: 3492890328409238509324850943850943825024385n }]));
  it('verbatim string (INFO in RESP3)', () => assertReads('=15\r\ntxt:Some string\r\n=4\r\nmkd:\r\n',
    [{ type: 'verbatim', format: 'txt', value: 'Some string' }, { type: 'verbatim', format: 'mkd', value: '' }]));
  it('blob error', () => assertReads('!21\r\nSYNTAX invalid syntax\r\n', [{ type: 'error', message: 'SYNTAX invalid syntax' }]));
  it('set', () => assertReads('~2\r\n+a\r\n:1\r\n', [{ type: 'set', items: [{ type: 'simple', value: 'a' }, int(1)] }]));
  it('map with mixed keys and nested values', () => assertReads('%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n~1\r\n#t\r\n', [{
    type: 'map', entries: [[{ type: 'simple', value: 'first' }, int(1)], [bulk('second'), { type: 'set', items: [{ type: 'boolean', value: true }] }]],
  }]));
  it('push (an invalidation), returned as its own reply', () => assertReads('>2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n+OK\r\n', [
    { type: 'push', items: [bulk('invalidate'), { type: 'array', items: [bulk('key')] }] }, { type: 'simple', value: 'OK' },
  ]));
  it('attribute: read and dropped, the reply it annotates returned', () => assertReads(
    '|1\r\n+key-popularity\r\n*2\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:2039123\r\n:9543892\r\n',
    [{ type: 'array', items: [int(2039123), int(9543892)] }]));
  it('every type one after another, split at every byte', () => {
    const wire = `+OK\r\n-ERR x\r\n:1\r\n$1\r\na\r\n*1\r\n_\r\n${REDIS7_HELLO3}~0\r\n#f\r\n,2.5\r\n(7\r\n=5\r\ntxt:x\r\n|1\r\n+a\r\n+b\r\n+c\r\n>1\r\n+p\r\n`;
    assertReads(wire, [
      { type: 'simple', value: 'OK' }, { type: 'error', message: 'ERR x' }, int(1), bulk('a'), { type: 'array', items: [{ type: 'null' }] },
      REDIS7_HELLO3_READ, { type: 'set', items: [] }, { type: 'boolean', value: false }, { type: 'double', value: 2.5 }, { type: 'bignum', value: 7n },
      { type: 'verbatim', format: 'txt', value: 'x' }, { type: 'simple', value: 'c' }, { type: 'push', items: [{ type: 'simple', value: 'p' }] },
    ]);
  });
});

describe('incomplete and malformed input', () => {
  it('an incomplete reply is held until the rest arrives, a following one is left buffered', () => {
    const reader = new RespReader();
    reader.push(Buffer.from('$5\r\nhel'));
    assert.equal(reader.next(), undefined);
    assert.equal(reader.buffered, 7);
    reader.push(Buffer.from('lo\r\n+O'));
    assert.deepEqual(reader.next(), bulk('hello'));
    assert.equal(reader.next(), undefined);
    assert.equal(reader.buffered, 2);
  });

  const rejects = (wire: string, pattern: RegExp, maxBytes?: number): void => {
    const reader = new RespReader(maxBytes);
    assert.throws(() => {
      reader.push(Buffer.from(wire, 'latin1'));
      reader.next();
    }, (error: unknown) => error instanceof RespProtocolError && pattern.test(error.message));
  };
  it('a byte that starts no reply type, at once (before any CRLF)', () => rejects('HTTP/1.1 400', /unknown reply type byte 0x48/));
  it('a bulk string not followed by CRLF', () => rejects('$2\r\nabcd\r\n', /not followed by CRLF/));
  it('bad lengths', () => {
    rejects('$x\r\n', /bad string length/);
    rejects('*-2\r\n', /out of range/);
    rejects('%-1\r\n', /out of range/);
    rejects('$100\r\n', /out of range/, 50);
  });
  it('bad integers, booleans, doubles, nulls', () => {
    rejects(':1.5\r\n', /bad integer/);
    rejects('#x\r\n', /bad boolean/);
    rejects(',abc\r\n', /bad double/);
    rejects('_x\r\n', /bad null/);
  });
  it('a verbatim string without its format', () => rejects('=2\r\nab\r\n', /fmt/));
  it('streamed replies', () => {
    rejects('$?\r\n', /streamed/);
    rejects('*?\r\n', /streamed/);
  });
  it('nesting deeper than 64', () => rejects('*1\r\n'.repeat(100), /nested deeper/));
  it('more buffered bytes than maxBytes', () => rejects('+'.padEnd(100, 'a'), /longer than 50 bytes/, 50));
});

describe('encodeCommand', () => {
  it('a RESP array of bulk strings, lengths in bytes', () => {
    assert.equal(encodeCommand(['CLIENT', 'TRACKING', 'ON']).toString('latin1'), '*3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n');
    assert.deepEqual(encodeCommand(['AUTH', 'pä']), Buffer.concat([Buffer.from('*2\r\n$4\r\nAUTH\r\n$3\r\np'), Buffer.from([0xc3, 0xa4]), Buffer.from('\r\n')]));
    assert.equal(encodeCommand([]).toString('latin1'), '*0\r\n');
  });
});

describe('describeReply', () => {
  it('one line per reply kind', () => {
    assert.equal(describeReply({ type: 'error', message: 'ERR x' }), 'ERR x');
    assert.equal(describeReply(bulk('hi')), 'hi');
    assert.equal(describeReply(int(3)), 'integer 3');
    assert.equal(describeReply({ type: 'array', items: [] }), 'an array of 0 elements');
    assert.equal(describeReply(REDIS7_HELLO3_READ), 'a map of 7 entries');
    assert.equal(describeReply({ type: 'null' }), 'null');
  });
});
