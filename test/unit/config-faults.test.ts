import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { resolveConfig, type LocalTargetSpec } from '../../src/config/resolve.js';
import { LOCAL_TARGETS } from '../../src/local/catalog.js';
import { validateRun, type RunArgs } from '../../src/cli/validate.js';
import { faultGate } from '../../src/compare/faults.js';
import type { ResultsDocument } from '../../src/report/document.js';
import { input, rejects } from '../helpers/config.js';
import { tempDir } from '../helpers/servers.js';

const SCENARIOS = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
const CLUSTER: LocalTargetSpec[] = LOCAL_TARGETS.filter((t) => (t.topology ?? t.name) === 'REDIS_CLUSTER');

describe('fault-run configuration', () => {
  it('every shipped scenario resolves; the failover ones are fault runs with their schedule in ms', () => {
    const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.includes('failover-kill-primary.yaml') && files.includes('failover-pause-primary.yaml') && files.includes('failover-graceful.yaml'));
    for (const file of files) {
      // A trace is judged against each client's own writes: no client cache among its targets.
      const plan = resolveConfig(input({ scenarioFiles: [join(SCENARIOS, file)], localTargets: file === 'trace-replay.yaml' ? CLUSTER.filter((t) => t.name === 'REDIS_CLUSTER') : CLUSTER }));
      const fault = plan.scenarios[0]?.controls.fault;
      assert.equal(fault?.kind !== 'none', file.startsWith('failover-'), file);
      assert.equal(plan.connection.resilient, file.startsWith('failover-'), file);
    }
    const pause = resolveConfig(input({ scenarioFiles: [join(SCENARIOS, 'failover-pause-primary.yaml')], localTargets: CLUSTER })).scenarios[0]?.controls.fault;
    assert.deepEqual(pause, { kind: 'pause-primary', atMs: 10_000, durationMs: 5000, runMs: 30_000, command: '' });
  });

  it('a fault run may run a WORKLOAD on a KEYSPACE (one client owns every key), as a latency run may', () => {
    const env = { FAULT: 'kill-primary', FAULT_AT: '5', DURATION: '20' };
    const PLAIN = CLUSTER.filter((t) => t.name === 'REDIS_CLUSTER');
    const load = resolveConfig(input({ localTargets: PLAIN, env: { ...env, WORKLOAD: 'ycsb-a', KEYSPACE: '10', KEY_DISTRIBUTION: 'zipf:0.9' } })).scenarios[0]?.controls.load;
    assert.equal(load?.mode, 'latency');
    assert.deepEqual([load?.workload?.name, load?.keyspace, load?.distribution], ['ycsb-a', 10, { kind: 'zipf', exponent: 0.9 }]);
    rejects({ localTargets: PLAIN, env: { ...env, WORKLOAD: 'fanout', KEYSPACE: '5' } }, 'KEYSPACE=5', 'a latency or fault run\'s one client × 10 keys per {keys:10} group', 'need 10');
    rejects({ localTargets: PLAIN, env: { ...env, WORKLOAD: 'counters' } }, 'KEYSPACE is 0');
    rejects({ localTargets: PLAIN, env: { ...env, WORKLOAD: 'counters', KEYSPACE: '100', CLIENTS: '4' } }, 'CLIENTS=4', 'throughput runs only');
    rejects({ localTargets: PLAIN, env: { ...env, KEYSPACE: '100' } }, 'KEYSPACE=100', 'throughput runs only (or with a WORKLOAD)');
    // Without FAULT: a latency run of the mix, its targets' models held at once.
    const latency = resolveConfig(input({ localTargets: PLAIN, env: { WORKLOAD: 'counters', KEYSPACE: '100' } })).scenarios[0]?.controls;
    assert.deepEqual([latency?.load.mode, latency?.fault.kind, latency?.load.workload?.name, latency?.load.keyspace], ['latency', 'none', 'counters', 100]);
    rejects({ localTargets: CLUSTER, env: { WORKLOAD: 'counters', KEYSPACE: '600000' } }, 'KEYSPACE=600000', 'each hold their own at once', `set KEYSPACE to ${Math.floor(1_000_000 / CLUSTER.length)} or less`);
    rejects({ localTargets: PLAIN, env: { WORKLOAD: 'counters', KEYSPACE: '100', OVERWRITE_RATE: '100' } }, 'OVERWRITE_RATE=100', 'preloaded keys');
    rejects({ localTargets: PLAIN, env: { WORKLOAD: 'counters', KEYSPACE: '100', TRACE: 'x.csv' } }, 'TRACE', 'throughput runs only');
  });

  it('refuses a fault that comes after the run, or a pause or restart that outlasts it', () => {
    rejects({ localTargets: CLUSTER, env: { FAULT: 'kill-primary', FAULT_AT: '20', DURATION: '20' } }, 'FAULT_AT=20 (from process environment)', 'after the run ends (DURATION=20 s');
    rejects({ localTargets: CLUSTER, env: { FAULT: 'pause-primary', FAULT_AT: '5', FAULT_DURATION: '15', DURATION: '20' } }, 'FAULT_DURATION=15', 'raise DURATION');
    // A kill needs no FAULT_DURATION, so the same numbers are fine for it.
    assert.equal(resolveConfig(input({ localTargets: CLUSTER, env: { FAULT: 'kill-primary', FAULT_AT: '5', FAULT_DURATION: '15', DURATION: '20' } })).scenarios[0]?.controls.fault.kind, 'kill-primary');
  });

  it('a fault run needs a second before the fault, time after it, and keys that outlive it; at most 6 h', () => {
    rejects({ localTargets: CLUSTER, env: { FAULT: 'kill-primary', FAULT_AT: '0.5' } }, 'FAULT_AT=0.5', 'at least 1 s before the fault');
    rejects({ localTargets: CLUSTER, env: { FAULT: 'kill-primary', FAULT_AT: '19', DURATION: '20' } }, 'DURATION=20', 'leaves 1.0 s after the fault');
    rejects({ localTargets: CLUSTER, env: { FAULT: 'pause-primary', FAULT_AT: '5', FAULT_DURATION: '14', DURATION: '20' } }, 'DURATION=20', 'leaves 1.0 s after the fault ends');
    // KEY_TTL must outlive DURATION by 60 s: 300 s keys allow a 240 s run, not a 241 s one.
    assert.equal(resolveConfig(input({ localTargets: CLUSTER, env: { FAULT: 'kill-primary', DURATION: '240' } })).scenarios[0]?.controls.fault.runMs, 240_000);
    rejects({ localTargets: CLUSTER, env: { FAULT: 'kill-primary', DURATION: '241' } }, 'KEY_TTL=300 (from built-in default)', 'set KEY_TTL to 301 or more');
    rejects({ localTargets: CLUSTER, env: { FAULT: 'kill-primary', DURATION: '21601', KEY_TTL: '30000' } }, 'DURATION="21601"', 'above the maximum 21600');
  });

  it('fault scenarios and latency scenarios are not mixed in one run', () => {
    rejects({ localTargets: CLUSTER, scenarioFiles: [join(SCENARIOS, 'seed-read-heavy.yaml'), join(SCENARIOS, 'failover-graceful.yaml')] },
      'scenario failover-graceful is a fault run and seed-read-heavy is not', 'run fault scenarios and latency scenarios as separate runs');
  });

  it('FAULT=command needs FAULT_COMMAND, and FAULT_COMMAND needs FAULT=command', () => {
    rejects({ env: { R_SERVERS: '127.0.0.1:6379', FAULT: 'command' } }, 'FAULT_COMMAND', 'needs the shell command');
    rejects({ env: { R_SERVERS: '127.0.0.1:6379', FAULT: 'failover', FAULT_COMMAND: 'true' } }, 'FAULT_COMMAND="true"', 'FAULT is failover');
    const plan = resolveConfig(input({ env: { R_SERVERS: '127.0.0.1:6379', FAULT: 'command', FAULT_COMMAND: 'kubectl delete pod cache-0' } }));
    assert.equal(plan.scenarios[0]?.controls.fault.command, 'kubectl delete pod cache-0');
  });

  it('a fault run does not take an overwriter', () => {
    rejects({ localTargets: CLUSTER, env: { FAULT: 'kill-primary', OVERWRITE_RATE: '10' } }, 'OVERWRITE_RATE=10', 'set OVERWRITE_RATE to 0');
  });

  it('destructive faults only on local topologies, naming the remote targets; failover and command anywhere', () => {
    for (const kind of ['kill-primary', 'pause-primary', 'restart-primary', 'kill-replica']) {
      rejects({ env: { PROD_SERVERS: '10.0.0.1:6379', FAULT: kind }, localTargets: CLUSTER }, `FAULT=${kind} (from process environment`, 'PROD is not one (set by PROD_SERVERS)', '--local');
    }
    assert.equal(resolveConfig(input({ env: { PROD_SERVERS: '10.0.0.1:6379', FAULT: 'failover' } })).targets[0]?.name, 'PROD');
  });

  it('failover and kill-replica need a topology with replicas', () => {
    const twemproxy = LOCAL_TARGETS.filter((t) => t.name === 'TWEMPROXY');
    rejects({ localTargets: twemproxy, env: { FAULT: 'failover' } }, 'FAULT=failover', 'TWEMPROXY (TWEMPROXY)', 'has none', '--local REDIS_CLUSTER');
    rejects({ localTargets: LOCAL_TARGETS.filter((t) => t.name === 'REDIS_SINGLE'), env: { FAULT: 'kill-replica' } }, 'FAULT=kill-replica', 'REDIS_SINGLE');
  });
});

describe('fault-run gates', () => {
  const out = tempDir('cachebench-faultgate-');
  const args = (over: Partial<RunArgs>): RunArgs => ({ 'cluster-node-timeout': 5000, alpha: 0.01, out: out.dir, quiet: true, local: ['REDIS_CLUSTER'], ...over });
  const refuses = (over: Partial<RunArgs>, env: Record<string, string>, pattern: RegExp): void => {
    assert.throws(() => validateRun(args(over), env), (error: unknown) => error instanceof ConfigError && pattern.test(error.message));
  };
  it('--max-lost-writes and --max-window need a fault run and proper numbers', () => {
    refuses({ 'max-window': '8' }, {}, /--max-window judges fault runs, and no scenario of this run sets FAULT\. Fix: /);
    refuses({ 'max-lost-writes': 'none' }, { FAULT: 'kill-primary' }, /--max-lost-writes "none" is not a whole number.*Fix: /);
    refuses({ 'max-window': '-1' }, { FAULT: 'kill-primary' }, /--max-window "-1" is not a number of seconds/);
    const ok = validateRun(args({ 'max-window': '7.5', 'max-lost-writes': '0' }), { FAULT: 'kill-primary' });
    assert.deepEqual(ok.faultLimits, { maxLostWrites: 0, maxWindowMs: 7500 });
    out.remove();
  });
});

describe('a FAULT_COMMAND from a scenario file runs only when commands are allowed', () => {
  const dir = tempDir('cachebench-allowcmd-');
  const scenario = join(dir.dir, 'from-a-pull-request.yaml');
  writeFileSync(scenario, 'FAULT: command\nFAULT_COMMAND: "touch pwned"\nFAULT_AT: 1\nDURATION: 4\n');
  const onlyFault = join(dir.dir, 'fault-only.yaml');
  writeFileSync(onlyFault, 'FAULT: command\nFAULT_AT: 1\nDURATION: 4\n');
  const args = (over: Partial<RunArgs>): RunArgs => ({ 'cluster-node-timeout': 5000, alpha: 0.01, out: join(dir.dir, 'results'), quiet: true, local: false, scenarios: [scenario], ...over });
  const env = { R_SERVERS: '127.0.0.1:6379' };
  it('without --allow-commands or CACHEBENCH_ALLOW_COMMANDS=1: exit 2 naming the file, the key and the fix', () => {
    assert.throws(() => validateRun(args({}), env), (error: unknown) => error instanceof ConfigError
      && error.message.includes(`FAULT_COMMAND "touch pwned" (from scenario file ${scenario})`)
      && /Fix: .*--allow-commands \(or CACHEBENCH_ALLOW_COMMANDS=1\)/.test(error.message));
    assert.throws(() => validateRun(args({}), { ...env, CACHEBENCH_ALLOW_COMMANDS: '0' }), ConfigError);
  });
  it('allowed by the flag or the env var; a FAULT_COMMAND the user gave runs without either', () => {
    const command = (run: ReturnType<typeof validateRun>): string | undefined => run.plan.scenarios[0]?.controls.fault.command;
    assert.equal(command(validateRun(args({ 'allow-commands': true }), env)), 'touch pwned');
    assert.equal(command(validateRun(args({}), { ...env, CACHEBENCH_ALLOW_COMMANDS: '1' })), 'touch pwned');
    assert.equal(command(validateRun(args({ scenarios: [onlyFault] }), { ...env, FAULT_COMMAND: 'echo mine' })), 'echo mine');
    assert.equal(command(validateRun(args({ scenarios: [onlyFault], envVars: ['FAULT_COMMAND:echo typed'] }), env)), 'echo typed');
    assert.equal(command(validateRun(args({ 'fault-command': 'echo flag' }), env)), 'echo flag', 'a flag overrides the file');
    dir.remove();
  });
});

describe('faultGate', () => {
  const entry = (name: string, fault: Record<string, unknown> | null) => ({ target: { name }, scenario: { name: 's' }, fault });
  const doc = {
    results: [
      entry('LOSES', { lostAckedWrites: 3, ackedWritesUnchecked: 0, windowStartMs: 100, windowMs: 2500 }),
      entry('SLOW', { lostAckedWrites: 0, ackedWritesUnchecked: 0, windowStartMs: 100, windowMs: 9000 }),
      entry('OPEN', { lostAckedWrites: 0, ackedWritesUnchecked: 2, windowStartMs: 100, windowMs: null }),
      entry('CLEAN', { lostAckedWrites: 0, ackedWritesUnchecked: 0, windowStartMs: null, windowMs: 0 }),
      entry('LATENCY', null),
    ],
  } as unknown as ResultsDocument;
  it('fails a target over either limit, a window that never closed, and writes that could not be judged', () => {
    assert.deepEqual(faultGate(doc, {}), []);
    assert.deepEqual(faultGate(doc, { maxLostWrites: 3 }), ['OPEN (s): 2 acknowledged writes could not be read back, so --max-lost-writes cannot be judged']);
    assert.deepEqual(faultGate(doc, { maxLostWrites: 2, maxWindowMs: 8000 }), [
      'LOSES (s): 3 acknowledged writes lost, more than --max-lost-writes 2',
      'SLOW (s): failure window 9.00 s, longer than --max-window 8',
      'OPEN (s): 2 acknowledged writes could not be read back, so --max-lost-writes cannot be judged',
      'OPEN (s): the failure window never closed within the run, longer than --max-window 8',
    ]);
  });
});
