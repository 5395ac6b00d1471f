import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { networkRecordProblem } from '../../src/local/netns.js';
import { readOwner } from '../../src/local/owner.js';

describe('the private network as an ownership file records it (untrusted on the next run)', () => {
  it('accepts only the names cachebench gives: cb<6 hex> and cb<same id>n<number>, at most 250 namespaces', () => {
    assert.equal(networkRecordProblem({ bridge: 'cb0a1b2c', namespaces: ['cb0a1b2cn0', 'cb0a1b2cn12'] }), undefined);
    const bad: unknown[] = [
      null, [], 'cb0a1b2c',
      { bridge: 'eth0', namespaces: [] },
      { bridge: 'docker0', namespaces: [] },
      { bridge: 'cb0a1b2c0', namespaces: [] },
      { bridge: 'CB0A1B2C', namespaces: [] },
      { bridge: 'cb0a1b2c', namespaces: ['cb0a1b2cn0', '../../etc'] },
      { bridge: 'cb0a1b2c', namespaces: ['cbffffffn0'] },
      { bridge: 'cb0a1b2c', namespaces: ['cb0a1b2cn0; reboot'] },
      { bridge: 'cb0a1b2c', namespaces: 'cb0a1b2cn0' },
      { bridge: 'cb0a1b2c', namespaces: Array.from({ length: 251 }, (_, i) => `cb0a1b2cn${i}`) },
    ];
    for (const value of bad) assert.notEqual(networkRecordProblem(value), undefined, JSON.stringify(value)?.slice(0, 80));
  });

  it('an ownership file naming any other network is not ours: it is never acted on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachebench-netns-unit-'));
    try {
      const base = { version: 1, kind: 'run', owner: { pid: 1, startTime: '1' }, createdAt: '2026-12-07T00:00:00Z', processes: [] };
      writeFileSync(join(dir, 'owner.json'), JSON.stringify({ ...base, network: { bridge: 'cb0a1b2c', namespaces: ['cb0a1b2cn0'] } }));
      assert.deepEqual(readOwner(dir)?.network, { bridge: 'cb0a1b2c', namespaces: ['cb0a1b2cn0'] });
      writeFileSync(join(dir, 'owner.json'), JSON.stringify({ ...base, network: { bridge: 'lo', namespaces: [] } }));
      assert.equal(readOwner(dir), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
