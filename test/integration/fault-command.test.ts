import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KEEP_LINES, MAX_LINE_CHARS } from '../../src/faults/supervisor.js';
import { CLI_PATH, resultsOf, runCli } from '../helpers/cli.js';
import { processesMentioning, waitUntilNoneMention } from '../helpers/procs.js';
import { commandCount, connectionsReceived, keyCount, standalone, tempDir } from '../helpers/servers.js';

/** The program name of a process ('' if it is gone). */
function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch (error: unknown) {
    void error; // it ended meanwhile
    return '';
  }
}

const WORKLOAD = { READ_RATIO: '10', PAYLOAD_BYTES: '100' };

describe('FAULT_COMMAND: bounded output, dies with cachebench, from a scenario file only when allowed', () => {
  it('20 MB of output without a newline: the run completes, results.json is written, the stored output is bounded', async () => {
    const single = await standalone();
    const out = tempDir('cachebench-faultflood-');
    try {
      const result = await runCli(['run', '--out', out.dir], {
        env: { R_SERVERS: single.address, ...WORKLOAD, FAULT: 'command', FAULT_COMMAND: "head -c 20000000 /dev/zero | tr '\\0' x", FAULT_AT: '1', DURATION: '3' },
        timeoutMs: 90_000,
      });
      assert.equal(result.code, 0, result.stderr.slice(-2000));
      const command = resultsOf(result.stdout).results[0]?.fault?.command;
      assert.equal(command?.exitCode, 0);
      const lines = command?.lastLines ?? [];
      assert.deepEqual(lines, [`…${'x'.repeat(MAX_LINE_CHARS)}`]);
      assert.ok(lines.join('').length <= KEEP_LINES * (MAX_LINE_CHARS + 1));
      assert.ok(result.stdout.length < 100_000, `stdout of ${result.stdout.length} characters`);
    } finally {
      out.remove();
      await single.stop();
    }
  });

  it("SIGKILL of cachebench mid-run kills the command's process group, what it left in the background included", async () => {
    const single = await standalone();
    const out = tempDir('cachebench-faultorphan-');
    // A marker no other process has: GNU sleep takes fractional seconds.
    const marker = `sleep 300.${randomInt(100_000, 999_999)}`;
    const cli = spawn(process.execPath, [CLI_PATH, 'run', '--out', out.dir, '--quiet'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', R_SERVERS: single.address, ...WORKLOAD, FAULT: 'command', FAULT_COMMAND: `${marker} & ${marker}`, FAULT_AT: '1', DURATION: '60' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((resolve) => cli.once('exit', resolve));
    let started: number[] = [];
    try {
      const deadline = Date.now() + 60_000;
      // Both sleeps (besides the shell, whose command line holds the marker too).
      const sleeps = (): number[] => processesMentioning(marker).filter((pid) => commOf(pid) === 'sleep');
      while (started.length < 2 && Date.now() < deadline && cli.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        started = sleeps();
      }
      assert.equal(started.length, 2, `the command did not start: ${stderr}`);
      cli.kill('SIGKILL');
      await exited;
      assert.deepEqual(await waitUntilNoneMention(marker, 10_000), [], 'a process of the fault command outlived cachebench');
    } finally {
      if (cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
      // If the feature is broken: stop what this test's command started, by PID.
      for (const pid of processesMentioning(marker)) process.kill(pid, 'SIGKILL');
      out.remove();
      await single.stop();
    }
  });

  it('a FAULT_COMMAND in a scenario file: exit 2 before any traffic without --allow-commands; runs with it', async () => {
    const single = await standalone();
    const dir = tempDir('cachebench-faultscenario-');
    const pwned = join(dir.dir, 'pwned');
    const scenario = join(dir.dir, 'from-a-pull-request.yaml');
    writeFileSync(scenario, `FAULT: command\nFAULT_COMMAND: "touch ${pwned}"\nFAULT_AT: 1\nDURATION: 3\nREAD_RATIO: 10\nPAYLOAD_BYTES: 100\n`);
    try {
      const connections = await connectionsReceived(single.server.port);
      const refused = await runCli(['run', scenario, '--out', join(dir.dir, 'results')], { env: { R_SERVERS: single.address } });
      assert.equal(refused.code, 2, refused.stderr);
      assert.ok(refused.stderr.includes(`FAULT_COMMAND "touch ${pwned}" (from scenario file ${scenario})`), refused.stderr);
      assert.match(refused.stderr, /Fix: .*--allow-commands/);
      assert.doesNotMatch(refused.stderr, /\n {4}at /);
      assert.equal(existsSync(pwned), false, 'the command ran');
      // Not even a connection: INFO itself is the one this check makes.
      assert.equal(await connectionsReceived(single.server.port), connections + 1);
      assert.equal(await commandCount(single.server.port, 'set'), 0);

      const allowed = await runCli(['run', scenario, '--out', join(dir.dir, 'results'), '--allow-commands'], { env: { R_SERVERS: single.address }, timeoutMs: 90_000 });
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.equal(existsSync(pwned), true, 'the command did not run');
      assert.ok((await commandCount(single.server.port, 'set')) > 0);
      assert.equal(await keyCount(single.server.port), 0);
    } finally {
      dir.remove();
      await single.stop();
    }
  });
});
