import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { parseEnvVarsItems, resolveConfig, type ConfigInput } from '../../src/config/resolve.js';
import { parseServers } from '../../src/config/servers.js';
import { tempDir } from '../helpers/servers.js';

const tmp = tempDir('cachebench-config-');
after(() => tmp.remove());
function scenarioFile(name: string, text: string): string {
  const file = join(tmp.dir, name);
  writeFileSync(file, text);
  return file;
}

const input = (over: Partial<ConfigInput>): ConfigInput => ({ scenarioFiles: [], env: {}, envVars: [], flags: {}, ...over });

/** Asserts that resolving fails with a ConfigError whose message has every fragment. */
function rejects(over: Partial<ConfigInput>, ...fragments: string[]): void {
  assert.throws(() => resolveConfig(input(over)), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    for (const f of fragments) assert.ok(error.message.includes(f), `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(f)}`);
    assert.match(error.message, /Fix: /);
    return true;
  });
}

describe('--envVars', () => {
  it('splits each item at the first colon, so server lists with ports survive (the seed command line)', () => {
    const plan = resolveConfig(input({
      envVars: ['REDIS_SERVERS:127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003', 'READ_RATIO:100', 'WRITE_COUNT:10', 'PAYLOAD_BYTES:20000', 'SOSS_SERVERS:127.0.0.1:6400'],
    }));
    assert.deepEqual(plan.targets.map((t) => t.name), ['REDIS', 'SOSS']);
    assert.deepEqual(plan.targets[0]?.servers.map((s) => s.display), ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003']);
    assert.deepEqual(plan.scenarios[0]?.cases, [{ READ_RATIO: 100, WRITE_COUNT: 10, PAYLOAD_BYTES: 20000 }]);
    assert.equal(parseEnvVarsItems(['A:b:c']).get('A')?.raw, 'b:c');
  });
  it('rejects an item without a colon', () => rejects({ envVars: ['READ_RATIO100'] }, '--envVars item "READ_RATIO100"', 'KEY:VALUE'));
  it('rejects an unknown key', () => rejects({ envVars: ['READ_RATO:5'] }, 'unknown key READ_RATO', '--envVars'));
});

describe('precedence: flags > --envVars > environment > scenario file > defaults', () => {
  it('takes each key from the highest layer that sets it and records the source', () => {
    const file = scenarioFile('prec.yaml', 'READ_RATIO: 1\nWRITE_COUNT: 2\nPAYLOAD_BYTES: 3\nKEY_TTL: 4\nDESCRIPTION: precedence\n');
    const plan = resolveConfig(input({
      scenarioFiles: [file],
      env: { WRITE_COUNT: '20', PAYLOAD_BYTES: '30', KEY_TTL: '40', X_SERVERS: '127.0.0.1:1' },
      envVars: ['PAYLOAD_BYTES:300', 'KEY_TTL:400'],
      flags: { KEY_TTL: '4000' },
    }));
    const s = plan.scenarios[0];
    assert.ok(s);
    const get = (k: string): [unknown, string] => [s.settings.get(k)?.value, s.settings.get(k)?.source.kind ?? ''];
    assert.deepEqual(get('READ_RATIO'), [1, 'scenario']);
    assert.deepEqual(get('WRITE_COUNT'), [20, 'env']);
    assert.deepEqual(get('PAYLOAD_BYTES'), [300, 'envVars']);
    assert.deepEqual(get('KEY_TTL'), [4000, 'flag']);
    assert.deepEqual(get('MIN_ITERATIONS'), [15, 'default']);
    assert.equal(s.description, 'precedence');
    assert.equal(s.name, 'prec');
    assert.equal(s.controls.keyTtlSeconds, 4000);
  });
  it('lets --envVars override a target set in the environment', () => {
    const plan = resolveConfig(input({ env: { R_SERVERS: '127.0.0.1:1' }, envVars: ['R_SERVERS:127.0.0.1:2', 'R_MODE:cluster'] }));
    assert.equal(plan.targets[0]?.servers[0]?.port, 2);
    assert.equal(plan.targets[0]?.mode, 'cluster');
    assert.equal(plan.targets[0]?.sources.SERVERS?.kind, 'envVars');
  });
  it('ignores unrelated environment variables', () => {
    const plan = resolveConfig(input({ env: { PATH: '/bin', npm_config_dns_servers: 'x', HOME_DIR: 'y' } }));
    assert.equal(plan.targets.length, 0);
  });
});

describe('parameter sweeps', () => {
  it('turns list values into the cartesian product, like BenchmarkDotNet [Params]', () => {
    const file = scenarioFile('sweep.yaml', 'PAYLOAD_BYTES: [100, 1000]\nREAD_RATIO: [1, 10]\nWRITE_COUNT: 5\n');
    const cases = resolveConfig(input({ scenarioFiles: [file] })).scenarios[0]?.cases;
    assert.deepEqual(cases, [
      { READ_RATIO: 1, WRITE_COUNT: 5, PAYLOAD_BYTES: 100 },
      { READ_RATIO: 10, WRITE_COUNT: 5, PAYLOAD_BYTES: 100 },
      { READ_RATIO: 1, WRITE_COUNT: 5, PAYLOAD_BYTES: 1000 },
      { READ_RATIO: 10, WRITE_COUNT: 5, PAYLOAD_BYTES: 1000 },
    ]);
  });
  it('accepts comma lists from env vars for sweepable keys', () => {
    assert.equal(resolveConfig(input({ env: { PAYLOAD_BYTES: '10,20,30' } })).scenarios[0]?.cases.length, 3);
  });
  it('rejects a list for a run control', () => rejects({ env: { MIN_ITERATIONS: '5,6' } }, 'MIN_ITERATIONS', 'single value'));
  it('accepts MAX_RELATIVE_ERROR as a percentage', () => {
    assert.equal(resolveConfig(input({ flags: { MAX_RELATIVE_ERROR: '5%' } })).scenarios[0]?.controls.maxRelativeError, 0.05);
  });
});

describe('bad input is rejected with key, value, source and fix', () => {
  it('unknown scenario key', () => rejects({ scenarioFiles: [scenarioFile('u.yaml', 'READ_RATIOS: 3\n')] }, 'unknown key READ_RATIOS', 'u.yaml'));
  it('target keys in a scenario file', () => rejects({ scenarioFiles: [scenarioFile('t.yaml', 'REDIS_SERVERS: x:1\n')] }, 'REDIS_SERVERS', 'not in scenario files'));
  it('unknown <NAME>_* option', () => rejects({ env: { REDIS_SERVERS: '127.0.0.1:1', REDIS_MODES: 'x' } }, 'unknown option REDIS_MODES', 'REDIS_MODE', 'process environment'));
  it('unknown <NAME>_* option with a longer target name', () => {
    const plan = resolveConfig(input({ env: { A_SERVERS: '127.0.0.1:1', A_B_SERVERS: '127.0.0.1:2', A_B_MODE: 'cluster' } }));
    assert.deepEqual(plan.targets.map((t) => [t.name, t.mode]), [['A', 'auto'], ['A_B', 'cluster']]);
  });
  it('non-integer count', () => rejects({ env: { WRITE_COUNT: '1.5' } }, 'WRITE_COUNT="1.5"', 'process environment', 'not a whole number'));
  it('negative count', () => rejects({ envVars: ['READ_RATIO:-1'] }, 'READ_RATIO="-1"', '--envVars', 'negative'));
  it('PAYLOAD_BYTES of 0', () => rejects({ flags: { PAYLOAD_BYTES: '0' } }, 'PAYLOAD_BYTES="0"', 'flag --payload-bytes', 'below the minimum 1'));
  it('PAYLOAD_BYTES above 512 MiB', () => rejects({ env: { PAYLOAD_BYTES: String(512 * 1024 * 1024 + 1) } }, 'PAYLOAD_BYTES', 'above the maximum 536870912'));
  it('non-numeric value in a scenario file', () => rejects({ scenarioFiles: [scenarioFile('n.yaml', 'WRITE_COUNT: ten\n')] }, 'WRITE_COUNT="ten"', 'n.yaml'));
  it('host without port', () => rejects({ env: { REDIS_SERVERS: 'cache1' } }, 'REDIS_SERVERS item "cache1"', 'no port', 'cache1:6379'));
  it('port 0', () => rejects({ env: { REDIS_SERVERS: '127.0.0.1:0' } }, 'port 0 is out of range'));
  it('port above 65535', () => rejects({ envVars: ['REDIS_SERVERS:127.0.0.1:65536'] }, 'port 65536 is out of range', '--envVars'));
  it('empty server list', () => rejects({ env: { REDIS_SERVERS: '' } }, 'REDIS_SERVERS', 'empty'));
  it('empty entry in a server list (the seed article\'s redacted ",,")', () => rejects({ envVars: ['REDIS_SERVERS:,,'] }, 'REDIS_SERVERS', 'empty entry'));
  it('unbracketed IPv6', () => rejects({ env: { R_SERVERS: '::1:6379' } }, 'brackets'));
  it('duplicate target names in --targets', () => rejects({ env: { A_SERVERS: '127.0.0.1:1' }, targets: 'A,A' }, 'twice'));
  it('unknown target in --targets', () => rejects({ env: { A_SERVERS: '127.0.0.1:1' }, targets: 'B' }, '--targets names B'));
  it('lower-case target name in --envVars', () => rejects({ envVars: ['redis_SERVERS:127.0.0.1:1'] }, 'upper-case'));
  it('missing scenario file', () => rejects({ scenarioFiles: [join(tmp.dir, 'nope.yaml')] }, 'nope.yaml', 'cannot be read', 'ENOENT'));
  it('unparseable scenario file', () => rejects({ scenarioFiles: [scenarioFile('bad.yaml', 'READ_RATIO: [1, 2\n')] }, 'bad.yaml', 'not valid YAML'));
  it('MAX_ITERATIONS below MIN_ITERATIONS', () => rejects({ flags: { MIN_ITERATIONS: '20', MAX_ITERATIONS: '10' } }, 'MAX_ITERATIONS', 'MIN_ITERATIONS=20'));
  it('unknown mode', () => rejects({ env: { R_SERVERS: '127.0.0.1:1', R_MODE: 'sharded' } }, 'R_MODE="sharded"', 'auto, cluster, standalone'));
  it('baseline that is not a target', () => rejects({ env: { R_SERVERS: '127.0.0.1:1' }, baseline: 'X' }, '--baseline X'));
  it('never shows a URL password in an error', () => {
    assert.throws(() => resolveConfig(input({ env: { R_SERVERS: 'redis://user:s3cret@host:99999' } })), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.ok(!error.message.includes('s3cret'), error.message);
      assert.match(error.message, /\*\*\*/);
      return true;
    });
  });
});

describe('server addresses', () => {
  const src = { kind: 'env' } as const;
  it('parses host:port, [IPv6]:port and redis/rediss URLs with credentials', () => {
    const servers = parseServers('R_SERVERS', 'a.example:1, [::1]:2,redis://u:p%40ss@h:3,rediss://h2', src);
    assert.deepEqual(servers.map((s) => [s.host, s.port, s.tls, s.display]), [
      ['a.example', 1, false, 'a.example:1'],
      ['::1', 2, false, '[::1]:2'],
      ['h', 3, false, 'h:3'],
      ['h2', 6379, true, 'h2:6379'],
    ]);
    assert.equal(servers[2]?.username, 'u');
    assert.equal(servers[2]?.password, 'p@ss');
  });
  it('sets TLS from rediss:// unless <NAME>_TLS overrides it', () => {
    assert.equal(resolveConfig(input({ env: { R_SERVERS: 'rediss://h:1' } })).targets[0]?.tls, true);
    assert.equal(resolveConfig(input({ env: { R_SERVERS: 'rediss://h:1', R_TLS: 'false' } })).targets[0]?.tls, false);
  });
});
