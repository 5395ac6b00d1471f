/**
 * Fault-run checks judged on exit codes, messages, reports and processes, not on a window or a recovery: they run in
 * the quiet lane (test/lanes.ts), beside the timed one, while faults.test.ts runs alone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ResultsDocument } from '../../src/report/document.js';
import { runCli } from '../helpers/cli.js';
import { fieldsOf, fixtureDoc } from '../helpers/entries.js';
import { assertNothingLeft, FAULT_LOAD, faultOf, sandbox as sandboxIn } from '../helpers/local.js';
import { processesMentioning } from '../helpers/procs.js';
import { commandCount, connectionsReceived, keyCount, standalone, tempDir } from '../helpers/servers.js';

const root = tempDir('cachebench-faultcheck-');
after(() => root.remove());

const sandbox = (name: string): { tmp: string; cwd: string } => sandboxIn(root.dir, name);

const WORKLOAD = FAULT_LOAD;

describe('fault runs on servers cachebench did not start', () => {
  it('FAULT=kill-primary on a remote target is a config error: exit 2, not even a connection', async () => {
    const single = await standalone();
    try {
      const port = single.server.port;
      const before = await connectionsReceived(port);
      const out = tempDir('cachebench-faultremote-');
      try {
        const result = await runCli(['run', '--out', out.dir, '--fault', 'kill-primary'], { env: { R_SERVERS: single.address } });
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, /FAULT=kill-primary \(from flag --fault.*R is not one.*R_SERVERS.*Fix: .*--local.*FAULT=failover.*FAULT=command/s);
        assert.equal(await connectionsReceived(port), before + 1, 'cachebench connected'); // +1: our own count's connection
      } finally {
        out.remove();
      }
    } finally {
      await single.stop();
    }
  });

  it('a FAULT_COMMAND that exits non-zero is reported (status, last output) and the run goes on to the end, exit 1', async () => {
    const single = await standalone();
    const out = tempDir('cachebench-faultcmd-');
    try {
      const result = await runCli(['run', '--out', out.dir], {
        env: { R_SERVERS: single.address, ...WORKLOAD, FAULT: 'command', FAULT_COMMAND: 'echo about to fail; echo boom >&2; exit 3', FAULT_AT: '1', DURATION: '3' },
      });
      assert.equal(result.code, 1, result.stderr);
      const doc = JSON.parse(readFileSync(join(/Report: (.*)report\.md/.exec(result.stdout)?.[1] ?? '', 'results.json'), 'utf8')) as ResultsDocument;
      assert.deepEqual(fieldsOf(doc, 'fault'), fieldsOf(fixtureDoc('fault'), 'fault'), 'the fields a real fault run wrote (test/fixtures)');
      const f = faultOf(doc.results[0]);
      assert.equal(f.command?.exitCode, 3);
      assert.deepEqual(f.command?.lastLines, ['about to fail', 'boom']);
      assert.ok(f.runMs >= 2900, `the run stopped at ${f.runMs} ms`);
      assert.ok((doc.results[0]?.ops.set.count ?? 0) > 0);
      assert.match(result.stdout, /FAULT_COMMAND `echo about to fail; echo boom >&2; exit 3`: exit status 3/);
      assert.match(result.stderr, /failures: R: the fault did not go as planned: FAULT_COMMAND exited with status 3/);
      // Every key written was deleted again (the checker deletes each write it read back, the rest at the end).
      assert.ok((await commandCount(single.server.port, 'del')) > 0);
      assert.equal(await keyCount(single.server.port), 0);
    } finally {
      out.remove();
      await single.stop();
    }
  });
});

describe('fault runs with a WORKLOAD', () => {
  it('every reply judged, every key read back whole after the fault: a FLUSHALL mid-run is counted lost (in the run and per key), a harmless fault loses nothing; no key left', async () => {
    const single = await standalone();
    const out = tempDir('cachebench-faultmix-');
    try {
      const env = { R_SERVERS: single.address, PAYLOAD_BYTES: '100', KEYSPACE: '500', FAULT: 'command', FAULT_AT: '1', DURATION: '3' };
      const docOf = (stdout: string): ResultsDocument => JSON.parse(readFileSync(join(/Report: (.*)report\.md/.exec(stdout)?.[1] ?? '', 'results.json'), 'utf8')) as ResultsDocument;
      const control = await runCli(['run', '--out', out.dir], { env: { ...env, WORKLOAD: 'ycsb-a', FAULT_COMMAND: 'true' } });
      assert.equal(control.code, 0, control.stderr + control.stdout);
      const c = docOf(control.stdout).results[0];
      const cm = faultOf(c).mix;
      assert.ok(cm, 'fault.mix');
      assert.deepEqual({ ...cm, inRunUnverified: 0 }, { workload: 'ycsb-a', keyType: 'hash', keys: 500, inRunMissing: 0, inRunMismatched: 0, inRunUnverified: 0,
        keysChecked: 500, keysLostMissing: 0, keysLostDifferent: 0, keysUnknown: 0, keysUnchecked: 0, lostKeys: [] });
      assert.equal(faultOf(c).lostAckedWrites, 0);
      assert.ok((c?.ops.set.count ?? 0) > 100 && (c?.ops.get.count ?? 0) > 100, JSON.stringify(c?.ops));
      assert.equal(c?.verification.verified, c?.verification.reads);
      // Per command: HGETALL and HSET, every reply verified, their ops the run's.
      const commands = faultOf(c).commands ?? [];
      assert.deepEqual(commands.map((x) => x.command).sort(), ['HGETALL', 'HSET']);
      assert.equal(commands.reduce((n, x) => n + x.ops, 0), (c?.ops.set.count ?? 0) + (c?.ops.get.count ?? 0));
      for (const x of commands) assert.equal(x.verified, x.ops, x.command);
      assert.match(readFileSync(join(/Report: (.*)report\.md/.exec(control.stdout)?.[1] ?? '', 'report.md'), 'utf8'), /#### Per command[\s\S]*\| R +\| HGETALL \|/);
      assert.equal(await keyCount(single.server.port), 0, 'every key deleted');

      // 3,000 keys, zipf 0.99: the 2 s after the flush touch the hot ones and leave most of the tail as the flush left it.
      const flushed = await runCli(['run', '--out', out.dir], { env: { ...env, KEYSPACE: '3000', WORKLOAD: 'counters', FAULT_COMMAND: `redis-cli -p ${single.server.port} FLUSHALL` } });
      assert.equal(flushed.code, 1, flushed.stderr + flushed.stdout);
      const f = faultOf(docOf(flushed.stdout).results[0]);
      const m = f.mix;
      assert.ok(m, 'fault.mix');
      // After the flush, reads find counters gone and increments start again from 1: caught as they come...
      assert.ok(m.inRunMissing + m.inRunMismatched > 0, JSON.stringify(m));
      // ...and the keys the run did not touch again are found gone when read back at the end.
      assert.ok(m.keysLostMissing > 0, JSON.stringify(m));
      assert.equal(m.keysChecked + m.keysUnknown + m.keysUnchecked, 3000);
      assert.equal(f.lostAckedWrites, m.inRunMissing + m.inRunMismatched + m.keysLostMissing + m.keysLostDifferent);
      assert.equal(m.lostKeys.length, m.keysLostMissing + m.keysLostDifferent);
      assert.ok(m.lostKeys.every((k) => k.startsWith('cachebench:')), m.lostKeys[0]);
      assert.match(flushed.stdout, /R WORKLOAD counters \(3000 counter keys\): \d+ replies during the run found an acknowledged write gone/);
      assert.equal(await keyCount(single.server.port), 0, 'every key deleted');
    } finally {
      out.remove();
      await single.stop();
    }
  });
});

describe('fault runs interrupted', () => {
  it('Ctrl-C during a pause resumes the server at once (no wait for FAULT_DURATION), exits 130 and leaves nothing', async () => {
    const { tmp, cwd } = sandbox('interrupt');
    let sentAt: number | undefined;
    const result = await runCli(['run', '--local', 'REDIS_SINGLE', '--out', join(cwd, 'results')], {
      cwd, timeoutMs: 60_000,
      env: { TMPDIR: tmp, ...WORKLOAD, FAULT: 'pause-primary', FAULT_AT: '1', FAULT_DURATION: '20', DURATION: '30', OP_TIMEOUT_MS: '500' },
      onStderr: (text, child) => {
        if (sentAt === undefined && /SIGSTOP redis-server/.test(text)) {
          sentAt = Date.now();
          setTimeout(() => child.kill('SIGINT'), 500);
        }
      },
    });
    assert.equal(result.code, 130, result.stderr);
    assert.ok(sentAt !== undefined, 'the pause never came');
    // Healing sends SIGCONT instead of waiting out the 20 s pause; keys are deleted and servers stopped within seconds.
    assert.ok(Date.now() - sentAt < 10_000, `exit ${Date.now() - sentAt} ms after the pause began`);
    // SIGCONT came when healing began (at the interrupt), not after the 20 s pause.
    const resumed = /REDIS_SINGLE \+(\d+\.\d+) s: SIGCONT redis-server/.exec(result.stdout);
    assert.ok(resumed, result.stdout);
    assert.ok(Number(resumed[1]) < 10, `SIGCONT at ${resumed[1]} s`);
    assertNothingLeft(tmp);
  });
});

describe('fault commands and refusals', () => {
  it('FAULT=failover against a standalone server is refused after the probe, before any write (exit 2)', async () => {
    const single = await standalone();
    const out = tempDir('cachebench-faultstandalone-');
    try {
      const result = await runCli(['run', '--out', out.dir, '--fault', 'failover'], { env: { R_SERVERS: single.address } });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /FAULT=failover sends CLUSTER FAILOVER to a replica \(SENTINEL FAILOVER to a Sentinel deployment's sentinels\), and R is standalone .*Fix: /);
      assert.equal(await commandCount(single.server.port, 'set'), 0);
    } finally {
      out.remove();
      await single.stop();
    }
  });

  it('a FAULT_COMMAND that leaves a process in the background does not hold the run', async () => {
    const single = await standalone();
    const out = tempDir('cachebench-faultbg-');
    try {
      const started = Date.now();
      const result = await runCli(['run', '--out', out.dir], {
        env: { R_SERVERS: single.address, ...WORKLOAD, FAULT: 'command', FAULT_COMMAND: 'sleep 60 & echo started', FAULT_AT: '1', DURATION: '3' },
      });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(Date.now() - started < 20_000, `the run took ${Date.now() - started} ms`);
      assert.match(result.stdout, /FAULT_COMMAND `sleep 60 & echo started`: exit status 0 after 0\.\d\d s; last output: started/);
      // What it left in the background was stopped with its process group at the end of the run.
      assert.deepEqual(processesMentioning('sleep 60'), []);
    } finally {
      out.remove();
      await single.stop();
    }
  });
});
