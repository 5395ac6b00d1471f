import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOCAL_TARGETS } from '../../src/local/catalog.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { bindLocalServers, localItemSizeMax } from '../../src/config/target.js';
import { input, rejects } from '../helpers/config.js';

const POOL = { MC_SERVERS: '127.0.0.1:11211,127.0.0.1:11212,127.0.0.1:11213', MC_PROTOCOL: 'memcache' };

describe('memcache targets: <NAME>_PROTOCOL=memcache', () => {
  it('makes a pool of the listed servers with the memcache driver and the default 1 MiB item size', () => {
    const plan = resolveConfig(input({ env: { ...POOL } }));
    const t = plan.targets[0];
    assert.equal(t?.protocol, 'memcache');
    assert.equal(t?.client, 'memcache');
    assert.equal(t?.mode, 'auto');
    assert.equal(t?.servers.length, 3);
    assert.equal(t?.itemSizeMax, 1024 * 1024);
    // RESP targets are unchanged.
    assert.equal(resolveConfig(input({ env: { R_SERVERS: '127.0.0.1:6379' } })).targets[0]?.protocol, 'resp');
  });

  it('refuses a value that does not fit memcached\'s item size limit, naming the limit and -I; <NAME>_ITEM_SIZE_MAX raises it', () => {
    rejects({ env: { ...POOL, PAYLOAD_BYTES: '1048576' } }, 'PAYLOAD_BYTES', '1048576', 'memcached', '-I 1m', 'up to 1047552 bytes fit', 'MC_ITEM_SIZE_MAX=2m');
    rejects({ env: { ...POOL, PAYLOAD_BYTES: '100,2000000' } }, 'scenario default writes 2000000');
    assert.equal(resolveConfig(input({ env: { ...POOL, PAYLOAD_BYTES: '1047552' } })).targets.length, 1);
    const raised = resolveConfig(input({ env: { ...POOL, MC_ITEM_SIZE_MAX: '2m', PAYLOAD_BYTES: '2000000' } }));
    assert.equal(raised.targets[0]?.itemSizeMax, 2 * 1024 * 1024);
    rejects({ env: { ...POOL, MC_ITEM_SIZE_MAX: 'huge' } }, 'MC_ITEM_SIZE_MAX', '"huge"', 'not an item size');
    rejects({ env: { R_SERVERS: '127.0.0.1:6379', R_ITEM_SIZE_MAX: '2m' } }, 'R_ITEM_SIZE_MAX', 'PROTOCOL is resp');
  });

  it('starts local memcached with an item size that fits the run\'s largest value, so a local run never refuses it', () => {
    const local = LOCAL_TARGETS.filter((t) => t.name === 'MEMCACHED_POOL');
    const plan = resolveConfig(input({ localTargets: local, env: { PAYLOAD_BYTES: '100,3000000' } }));
    const bound = bindLocalServers(plan, { MEMCACHED_POOL: '127.0.0.1:11211,127.0.0.1:11212,127.0.0.1:11213' });
    assert.equal(bound.targets[0]?.itemSizeMax, 3 * 1024 * 1024); // 3,000,000 + 1 KiB rounded up to whole MiB
    assert.equal(localItemSizeMax(1000), 1024 * 1024);
    assert.equal(localItemSizeMax(1024 * 1024 - 1024), 1024 * 1024);
    assert.equal(localItemSizeMax(1024 * 1024 - 1023), 2 * 1024 * 1024);
    // The fix a remote pool is given names the size that fits, not always 2m.
    rejects({ env: { ...POOL, PAYLOAD_BYTES: '5000000' } }, 'memcached -I 5m', 'MC_ITEM_SIZE_MAX=5m');
  });

  it('refuses what only RESP servers have: cluster mode, client-side caching, replica reads, WAIT, a RESP driver, logins, TLS, redis:// URLs', () => {
    rejects({ env: { ...POOL, MC_MODE: 'cluster' } }, 'MC_MODE', 'no cluster mode', 'pool');
    rejects({ env: { ...POOL, MC_CACHE: 'tracking' } }, 'MC_CACHE', 'memcached has no such thing');
    rejects({ env: { ...POOL, MC_READ_FROM: 'replica' } }, 'MC_READ_FROM', 'memcached has no replicas');
    rejects({ env: { ...POOL, MC_WAIT: '1' } }, 'MC_WAIT', 'no WAIT');
    rejects({ env: { ...POOL, MC_CLIENT: 'ioredis' } }, 'MC_CLIENT', 'speaks RESP');
    rejects({ env: { R_SERVERS: '127.0.0.1:6379', R_CLIENT: 'memcache' } }, 'R_CLIENT', 'R_PROTOCOL=memcache');
    rejects({ env: { ...POOL, MC_PASSWORD: 'secret-pw' } }, 'MC_PASSWORD', 'no login');
    rejects({ env: { ...POOL, MC_TLS: 'true' } }, 'MC_TLS', 'TLS');
    rejects({ env: { MC_SERVERS: 'redis://127.0.0.1:6379', MC_PROTOCOL: 'memcache' } }, 'MC_SERVERS', 'redis://');
    rejects({ env: { ...POOL, MC_PROTOCOL: 'memcached-binary' } }, 'MC_PROTOCOL', 'resp, memcache');
    rejects({ env: { MC_SERVERS: '127.0.0.1:1,127.0.0.1:2', MC_PROTOCOL: 'memcache', MC_MODE: 'proxy' } }, 'MC_MODE', 'proxy');
  });
});
