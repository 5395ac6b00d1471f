import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { resolveConfig, type ConfigInput, NO_FAULT } from '../../src/config/resolve.js';
import { parseEnvVarsItems } from '../../src/config/layers.js';
import { parseServers } from '../../src/config/servers.js';
import { bindLocalServers } from '../../src/config/target.js';
import { clearSecrets, redactSecrets, registerSecret } from '../../src/config/redact.js';
import { commandInjector } from '../../src/faults/nemesis.js';
import { faultCase, loadCase } from '../../src/run/kinds.js';
import { Tally } from '../../src/workload/tally.js';
import { input, rejects } from '../helpers/config.js';
import { tempDir } from '../helpers/servers.js';

const tmp = tempDir('cachebench-config-');
after(() => tmp.remove());
function scenarioFile(name: string, text: string): string {
  const file = join(tmp.dir, name);
  writeFileSync(file, text);
  return file;
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
  it('a key set twice in a scenario file', () => rejects({ scenarioFiles: [scenarioFile('twice.yaml', 'READ_RATIO: 90\nWRITE_COUNT: 5\nREAD_RATIO: 10\n')] }, 'scenario file', 'twice.yaml sets READ_RATIO twice', 'keep one READ_RATIO line'));
  it('a scenario file is a flat mapping: anchors and aliases, merge keys and tagged collections are refused', () => {
    const refused = 'uses YAML anchors or aliases (&name, *name)';
    rejects({ scenarioFiles: [scenarioFile('anchor.yaml', 'READ_RATIO: &a 5\n')] }, 'anchor.yaml', refused);
    rejects({ scenarioFiles: [scenarioFile('alias-key.yaml', '&k READ_RATIO: 1\n*k : 2\n')] }, 'alias-key.yaml', refused);
    // Aliases of empty lists nest to 2^49 lists while yaml's maxAliasCount counts them as 0, then a message would
    // write them all out; 99 aliases of a list also made yaml walk the document for each use.
    const nested = ['&a0 []', ...Array.from({ length: 49 }, (_, i) => `&a${i + 1} [*a${i}, *a${i}]`)];
    rejects({ scenarioFiles: [scenarioFile('nested.yaml', `KEY_TTL: [${nested.join(', ')}]\n`)] }, 'nested.yaml', refused);
    rejects({ scenarioFiles: [scenarioFile('aliases.yaml', `READ_RATIO: [${Array(40_000).fill('&a 1,*a').join(',')}]\n`)] }, 'aliases.yaml', refused);
    rejects({ scenarioFiles: [scenarioFile('merge.yaml', '%YAML 1.1\n---\n<<: [{WRITE_COUNT: 2}, {WRITE_COUNT: 3}]\n')] }, 'merge.yaml uses a YAML merge key (<<)');
    // An ordered map came back as a JS Map whose entries were never read: the whole file was silently ignored.
    rejects({ scenarioFiles: [scenarioFile('omap.yaml', '--- !!omap\n- READ_RATIO: 5\n- NOT_A_KEY: 1\n')] }, 'omap.yaml must be a YAML mapping of KEY: value (not !!omap)');
    rejects({ scenarioFiles: [scenarioFile('set.yaml', '--- !!set\n? READ_RATIO\n')] }, 'set.yaml must be a YAML mapping of KEY: value (not !!set)');
  });
  // A hang guard, not a timing measurement: yaml's own unique-key check took over 30 s on this file (it compares each key
  // with every earlier one); the file is refused at its first unknown key after a linear parse (about 1 s here).
  it('60,000 keys in a scenario file are refused at the first unknown one, after a parse linear in the file', { timeout: 20_000 }, () => {
    const text = Array.from({ length: 60_000 }, (_, i) => `K${i}: 1`).join('\n');
    rejects({ scenarioFiles: [scenarioFile('many.yaml', text)] }, 'unknown key K0 in scenario file', 'many.yaml');
  });
  it('OP_TIMEOUT_MS that differs between scenarios (deadlines are run-level)', () => {
    const a = scenarioFile('fast.yaml', 'OP_TIMEOUT_MS: 500\n');
    const b = scenarioFile('slow.yaml', 'OP_TIMEOUT_MS: 3000\n');
    rejects({ scenarioFiles: [a, b] }, 'OP_TIMEOUT_MS=3000', 'scenario slow has 3000 (scenario file', 'but scenario fast has 500', 'one value for the run');
  });
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

describe('said, not silently ignored', () => {
  it('a MAX_ITERATIONS below MIN_ITERATIONS lowers the minimum and says so (a smoke run needs one flag)', () => {
    const plan = resolveConfig(input({ flags: { MAX_ITERATIONS: '3' } }));
    assert.equal(plan.scenarios[0]?.controls.minIterations, 3);
    assert.equal(plan.scenarios[0]?.controls.maxIterations, 3);
    assert.equal(plan.scenarios[0]?.settings.get('MIN_ITERATIONS')?.source.kind, 'flag');
    assert.ok(plan.warnings.some((w) => w.includes('MIN_ITERATIONS lowered from 15 (built-in default) to 3') && w.includes('flag --max-iterations')), plan.warnings.join('\n'));
  });
  it('names environment variables that look like misspelt keys, and ignores unrelated ones', () => {
    const plan = resolveConfig(input({ env: {
      GOOD_SERVERS: '127.0.0.1:1', REDIS_SERVER: '127.0.0.1:2', CACHE_SERVES: '127.0.0.1:3', READ_RATO: '5', redis_servers: '127.0.0.1:4',
      read_ratio: '3', PATH: '/usr/bin', HOME: '/root', npm_config_cache_servers: 'x', HOSTNAME: 'box', MIN_ITERATION: '4',
    } }));
    const text = plan.warnings.join('\n');
    assert.match(text, /REDIS_SERVER in the environment is not a cachebench key.*did you mean REDIS_SERVERS\?/);
    assert.match(text, /CACHE_SERVES .*did you mean CACHE_SERVERS\?/);
    assert.match(text, /READ_RATO .*did you mean READ_RATIO\?/);
    assert.match(text, /MIN_ITERATION .*did you mean MIN_ITERATIONS\?/);
    assert.match(text, /redis_servers .*upper case: did you mean REDIS_SERVERS\?/);
    assert.match(text, /read_ratio .*did you mean READ_RATIO\?/);
    assert.equal(plan.warnings.length, 6, text);
    assert.deepEqual(plan.targets.map((t) => t.name), ['GOOD']);
  });
  it('suggests the key a misspelt --envVars key or scenario-file key meant', () => {
    rejects({ envVars: ['READ_RATO:5'] }, 'unknown key READ_RATO', 'did you mean READ_RATIO?');
    rejects({ scenarioFiles: [scenarioFile('typo.yaml', 'PAYLOAD_BYTE: 100\n')] }, 'unknown key PAYLOAD_BYTE', 'did you mean PAYLOAD_BYTES?');
    rejects({ env: { REDIS_SERVERS: '127.0.0.1:1', REDIS_PASWORD: 'x' } }, 'unknown option REDIS_PASWORD', 'did you mean REDIS_PASSWORD?');
  });
});

describe('local topologies as targets', () => {
  it('are validated before they start, with no servers, and bound afterwards', () => {
    const plan = resolveConfig(input({ localTargets: [{ name: 'REDIS_SINGLE', mode: 'standalone' }], env: { OTHER_SERVERS: '127.0.0.1:5' } }));
    const pending = plan.targets.find((t) => t.name === 'REDIS_SINGLE');
    assert.equal(pending?.pendingServers, true);
    assert.deepEqual(pending?.servers, []);
    const bound = bindLocalServers(plan, { REDIS_SINGLE: '127.0.0.1:16379' });
    assert.deepEqual(bound.targets.find((t) => t.name === 'REDIS_SINGLE')?.servers.map((s) => s.display), ['127.0.0.1:16379']);
    assert.equal(bound.targets.find((t) => t.name === 'REDIS_SINGLE')?.pendingServers, undefined);
  });
  it('are the default only when no <NAME>_SERVERS is configured anywhere', () => {
    const defaults = [{ name: 'REDIS_SINGLE', mode: 'standalone' as const }];
    assert.deepEqual(resolveConfig(input({ defaultLocalTargets: defaults })).targets.map((t) => t.name), ['REDIS_SINGLE']);
    assert.deepEqual(resolveConfig(input({ defaultLocalTargets: defaults, envVars: ['MINE_SERVERS:127.0.0.1:1'] })).targets.map((t) => t.name), ['MINE']);
    // A misspelt variable configures nothing: the defaults are used, and the warning names it.
    const typo = resolveConfig(input({ defaultLocalTargets: defaults, env: { REDIS_SERVER: '10.0.0.1:6379' } }));
    assert.deepEqual(typo.targets.map((t) => t.name), ['REDIS_SINGLE']);
    assert.match(typo.warnings.join(), /REDIS_SERVER .*did you mean REDIS_SERVERS/);
  });
  it('refuse options the user sets on them', () => {
    rejects({ localTargets: [{ name: 'REDIS_SINGLE', mode: 'standalone' }], env: { REDIS_SINGLE_MODE: 'cluster' } }, 'REDIS_SINGLE_MODE', 'local topology REDIS_SINGLE');
  });
});

describe('<NAME>_PASSWORD_FILE', () => {
  const file = (name: string, text: string): string => {
    const f = join(tmp.dir, name);
    writeFileSync(f, text);
    return f;
  };
  it('reads the password from the first line (a final line break dropped) and masks it from then on', () => {
    clearSecrets();
    const f = file('pw-ok', 'hunter2-file\r\n');
    const target = resolveConfig(input({ env: { A_SERVERS: '127.0.0.1:1', A_PASSWORD_FILE: f } })).targets[0];
    assert.equal(target?.password, 'hunter2-file');
    assert.equal(target?.passwordFile, f);
    assert.equal(redactSecrets('auth failed for hunter2-file'), 'auth failed for ***');
    clearSecrets();
  });
  it('refuses a second password, an empty or many-line file, a FIFO, a folder, a big file: exit 2 naming the key, never the password', () => {
    const twoLines = file('pw-two', 'hunter2-one\nhunter2-two\n');
    const cases: [Record<string, string>, string][] = [
      [{ A_PASSWORD: 'x', A_PASSWORD_FILE: file('pw-both', 'y') }, 'A_PASSWORD is set too'],
      [{ A_PASSWORD_FILE: file('pw-empty', '\n') }, 'the file is empty'],
      [{ A_PASSWORD_FILE: twoLines }, 'more than one line'],
      [{ A_PASSWORD_FILE: tmp.dir }, 'cannot be read'],
      [{ A_PASSWORD_FILE: '/dev/zero' }, 'cannot be read'],
      [{ A_PASSWORD_FILE: file('pw-big', 'x'.repeat(5000)) }, 'cannot be read'],
      [{ A_PASSWORD_FILE: join(tmp.dir, 'missing') }, 'cannot be read'],
    ];
    for (const [env, fragment] of cases) {
      clearSecrets();
      assert.throws(() => resolveConfig(input({ env: { A_SERVERS: '127.0.0.1:1', ...env } })), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, /A_PASSWORD_FILE/);
        assert.ok(error.message.includes(fragment), error.message);
        assert.match(error.message, /Fix: /);
        assert.ok(!redactSecrets(error.message).includes('hunter2'), error.message);
        return true;
      });
    }
    clearSecrets();
  });
  it('a memcache target refuses it, as it refuses a password', () => {
    rejects({ env: { M_SERVERS: '127.0.0.1:1', M_PROTOCOL: 'memcache', M_PASSWORD_FILE: '/nonexistent' } }, 'M_PASSWORD_FILE', 'no login');
  });
});

describe('one redaction for every output path', () => {
  const cases: { name: string; over: Partial<ConfigInput>; secret: string }[] = [
    { name: '--envVars item without a colon', over: { envVars: ['X_PASSWORD=hunter2-a'] }, secret: 'hunter2-a' },
    { name: '--envVars bad target name with URL credentials', over: { envVars: ['bad_SERVERS:redis://u:hunter2-b@127.0.0.1:1'] }, secret: 'hunter2-b' },
    { name: 'URL password with / (not percent-encoded)', over: { env: { A_SERVERS: 'redis://u:hun/ter2-c@127.0.0.1:1' } }, secret: 'hun/ter2-c' },
    { name: 'URL password with @ and :', over: { env: { A_SERVERS: 'redis://u:h@un:ter2-d@127.0.0.1:notaport' } }, secret: 'h@un:ter2-d' },
    { name: 'flag-like password in env for an unknown option', over: { env: { A_SERVERS: '127.0.0.1:1', A_PASSWORD: 'hunter2-e', A_PASSWROD: 'x' } }, secret: 'hunter2-e' },
    { name: 'percent-encoded URL password', over: { envVars: ['B_SERVERS:redis://u:p%2Fw-hunter2-f@127.0.0.1:0'] }, secret: 'p/w-hunter2-f' },
  ];
  for (const c of cases) {
    it(`masks the password in the error and anything printed after: ${c.name}`, () => {
      clearSecrets();
      let message = '';
      try {
        resolveConfig(input(c.over));
      } catch (error: unknown) {
        message = error instanceof Error ? error.message : String(error);
      }
      assert.notEqual(message, '', 'expected an error');
      const shown = redactSecrets(message);
      assert.ok(!shown.includes(c.secret), `leaked in ${JSON.stringify(shown)}`);
      assert.ok(!shown.includes(encodeURIComponent(c.secret)), `leaked (encoded) in ${JSON.stringify(shown)}`);
      // A password registered from the input is masked wherever it turns up later (e.g. a server's error text).
      if (c.secret.length >= 4 && !c.name.includes('colon')) assert.equal(redactSecrets(`auth failed for ${c.secret}`), 'auth failed for ***');
    });
  }
  it('masks outside text where it enters a result: op errors, a dropped target, FAULT_COMMAND and its output', async () => {
    clearSecrets();
    registerSecret('hunter2-g');
    const tally = new Tally();
    assert.equal(tally.fail('get', new Error('ERR no such key hunter2-g')), 'GET: ERR no such key ***');
    assert.deepEqual([...tally.errorMessages.keys()], ['GET: ERR no such key ***']);
    const dropped = { name: 'A', state: 'errored', error: 'could not connect: redis://u:hunter2-g@h:1' } as const;
    const params = { READ_RATIO: 1, WRITE_COUNT: 1, PAYLOAD_BYTES: 1 };
    assert.equal(faultCase(params, { aborted: false, elapsedMs: 1, targets: [dropped] }).targets[0]?.error, 'could not connect: redis://u:***@h:1');
    assert.equal(loadCase(params, { aborted: false, elapsedMs: 1, targets: [dropped] }).targets[0]?.error, 'could not connect: redis://u:***@h:1');
    const injector = commandInjector({ ...NO_FAULT, kind: 'command', command: 'echo token hunter2-g; echo redis://u:x-y@h:1 >&2' });
    await injector.inject(() => undefined);
    // Its outcome is known once it exited (bounded wait), then nothing is left to stop.
    for (let i = 0; i < 250 && injector.command?.() === null; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await injector.dispose?.();
    const outcome = injector.command?.();
    assert.equal(outcome?.command, 'echo token ***; echo redis://u:***@h:1 >&2');
    assert.deepEqual([...(outcome?.lastLines ?? [])].sort(), ['redis://u:***@h:1', 'token ***']);
    clearSecrets();
  });
  it('keeps the user name and the host, and leaves text without credentials alone', () => {
    assert.equal(redactSecrets('redis://bench:s3cr/et@10.0.0.1:6379,rediss://:x@y@h:1'), 'redis://bench:***@10.0.0.1:6379,rediss://***@h:1');
    assert.equal(redactSecrets('{"A_PASSWORD": {"value": "(hidden)"}} 127.0.0.1:6379 redis://h:1'), '{"A_PASSWORD": {"value": "(hidden)"}} 127.0.0.1:6379 redis://h:1');
    assert.equal(redactSecrets('REDIS_PASSWORD=abc --envVars X_PASSWORD:"a b"'), 'REDIS_PASSWORD=*** --envVars X_PASSWORD:***');
  });
});

describe('the shipped scenario files', () => {
  const repo = new URL('../../../', import.meta.url);
  it('every file in scenarios/ parses, and seed-near-cache sweeps READ_RATIO 100 and 1 at the seed\'s sizes', async () => {
    const { readdirSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const dir = fileURLToPath(new URL('scenarios/', repo));
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.includes('seed-near-cache.yaml'), files.join(', '));
    // The failover-* fault scenarios need local topologies: config-faults.test.ts resolves them.
    for (const file of files.filter((f) => !f.startsWith('failover-'))) {
      const plan = resolveConfig({ scenarioFiles: [join(dir, file)], env: { X_SERVERS: '127.0.0.1:6379' }, envVars: [], flags: {} });
      assert.ok((plan.scenarios[0]?.cases.length ?? 0) > 0, file);
    }
    const near = resolveConfig({ scenarioFiles: [join(dir, 'seed-near-cache.yaml')], env: { X_SERVERS: '127.0.0.1:6379' }, envVars: [], flags: {} });
    assert.deepEqual(near.scenarios[0]?.cases, [
      { READ_RATIO: 100, WRITE_COUNT: 10, PAYLOAD_BYTES: 20000 },
      { READ_RATIO: 1, WRITE_COUNT: 10, PAYLOAD_BYTES: 20000 },
    ]);
  });
});
