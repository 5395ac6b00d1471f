/**
 * A RESP server of known capacity, as a process of its own (`node serial-server-main.js <serviceMs>`): it serves one
 * command at a time, each taking exactly `serviceMs` (a reply is due `serviceMs` after the one before it, or after its
 * command arrived if the server was idle), so it completes at most 1000 / serviceMs commands a second, whatever the
 * load. SET, GET, DEL and PING over an in-memory map (what a capacity run sends to a proxy-mode target). Prints its port,
 * then serves until killed; a server whose test died stops by itself after 5 minutes.
 */
import { createServer, type Socket } from 'node:net';
import { RespReader } from '../../src/targets/resp.js';

const serviceMs = Number(process.argv[2]);
const store = new Map<string, Buffer>();
let freeAt = 0;

function answer(command: readonly Buffer[]): Buffer {
  const [name, key, value] = command;
  switch (name?.toString().toUpperCase()) {
    case 'PING': return Buffer.from('+PONG\r\n');
    case 'SET':
      store.set(String(key), Buffer.from(value ?? Buffer.alloc(0)));
      return Buffer.from('+OK\r\n');
    case 'GET': {
      const v = store.get(String(key));
      return v === undefined ? Buffer.from('$-1\r\n') : Buffer.concat([Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')]);
    }
    case 'DEL': return Buffer.from(`:${store.delete(String(key)) ? 1 : 0}\r\n`);
    default: return Buffer.from('-ERR unknown command\r\n');
  }
}

const server = createServer((socket: Socket) => {
  socket.setNoDelay(true);
  const reader = new RespReader();
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    for (let r = reader.next(); r !== undefined; r = reader.next()) {
      const args = r.type === 'array' ? r.items.map((i) => (i.type === 'bulk' ? i.value : Buffer.alloc(0))) : [];
      if (args[0]?.toString().toUpperCase() === 'QUIT') {
        socket.end('+OK\r\n');
        return;
      }
      const now = performance.now();
      freeAt = Math.max(now, freeAt) + serviceMs;
      const reply = answer(args);
      setTimeout(() => {
        if (!socket.destroyed) socket.write(reply);
      }, freeAt - now);
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
setTimeout(() => process.exit(0), 300_000).unref();
process.on('SIGTERM', () => process.exit(0));
