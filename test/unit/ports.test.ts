import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findFreePorts } from '../../src/local/ports.js';

describe('findFreePorts', () => {
  it('never hands the same port to two searches under way at once (topologies start in parallel)', async () => {
    // 40 searches of 25 ports at once: 1,000 of 10,000 ports, where independent random picks would collide ~50 times.
    const found = (await Promise.all(Array.from({ length: 40 }, () => findFreePorts(25)))).flat();
    assert.equal(found.length, 1000);
    assert.equal(new Set(found).size, found.length, 'a port was handed out twice');
    for (const port of found) assert.ok(port >= 10000 && port < 20000, `${port} is outside 10000-19999`);
  });

  it('skips the ports it is told to avoid', async () => {
    const avoid = new Set(Array.from({ length: 9000 }, (_, i) => 10000 + i));
    const ports = await findFreePorts(5, avoid);
    for (const port of ports) assert.ok(!avoid.has(port), `${port} was to be avoided`);
  });
});
