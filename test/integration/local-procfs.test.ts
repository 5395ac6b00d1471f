import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRecorded, isOurProcess } from '../../src/local/procfs.js';
import { startRedisServer } from '../../src/local/redis.js';
import { tempDir } from '../helpers/servers.js';

// The unit suite (npm run test:unit) starts no server: this check of a real redis-server process lives here.
describe('recognising a recorded redis-server before signalling it', () => {
  it('a real redis-server is ours only with its binary, its whole port number and its start time', async () => {
    const tmp = tempDir();
    const server = await startRedisServer({ dir: tmp.dir });
    try {
      const { pid, startTime } = server.process;
      assert.ok(startTime);
      const port = server.port;
      assert.equal(isOurProcess(pid, `redis-server:${port}`, startTime), true);
      assert.equal(isOurProcess(pid, `redis-server:${String(port).slice(0, -1)}`, startTime), false, 'a port that is only a prefix');
      assert.equal(isOurProcess(pid, `redis-server:${String(port).slice(1)}`, startTime), false, 'a port that is only a suffix');
      assert.equal(checkRecorded({ pid, name: `nutcracker:${port}`, startTime }).kind, 'foreign', 'another binary');
      assert.equal(checkRecorded({ pid, name: `redis-server:${port}`, startTime: String(Number(startTime) + 1) }).kind, 'gone');
    } finally {
      await server.process.stop();
      tmp.remove();
    }
  });
});
