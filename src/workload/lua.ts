/**
 * The Lua script of a WORKLOAD's `EVAL; CMD …; CMD …` entry: each command a redis.call on KEYS and ARGV, their replies
 * returned as one array (Lua turns a status reply back into one, nil into nil), so each is judged as the command's own.
 * cachebench writes the script, so it touches only the keys it is given, all of one hash tag.
 */
import { createHash } from 'node:crypto';
import { MIX_COMMANDS } from '../config/workload.js';

type Args = readonly (string | Buffer)[];

export interface Script {
  readonly text: string;
  /** SHA1 of the text: what EVALSHA names (the server's script cache is keyed by it). */
  readonly sha: string;
}

/** Which arguments after the name are keys: all for MGET, DEL and EXISTS, every other from the first for MSET, else the first. */
export function keyPositions(name: string, argc: number): boolean[] {
  const shape = MIX_COMMANDS[name]?.shape;
  return Array.from({ length: argc }, (_, i) => (shape === 'keys' ? true : shape === 'key-values' ? i % 2 === 0 : i === 0));
}

/** The script text of these commands' names and arguments' kinds (the same for every call of one entry). */
export function scriptText(commands: readonly Args[]): string {
  let k = 0;
  let a = 0;
  const lines = commands.map((c, i) => {
    const name = String(c[0]);
    // Names are commands of MIX_COMMANDS (upper-case letters): safe inside the quotes.
    if (!/^[A-Z]+$/.test(name)) throw new TypeError(`not a command name: ${name.slice(0, 40)}`);
    const refs = keyPositions(name, c.length - 1).map((key) => (key ? `KEYS[${++k}]` : `ARGV[${++a}]`));
    return `r[${i + 1}] = redis.call('${name}'${refs.map((r) => `, ${r}`).join('')})`;
  });
  return ['-- cachebench WORKLOAD script', 'local r = {}', ...lines, 'return r', ''].join('\n');
}

/** The EVALSHA and EVAL of commands, their scripts kept by text (one per entry). */
export class Scripts {
  readonly #by = new Map<string, Script>();

  #script(commands: readonly Args[]): Script {
    const text = scriptText(commands);
    let s = this.#by.get(text);
    if (s === undefined) {
      s = { text, sha: createHash('sha1').update(text).digest('hex') };
      this.#by.set(text, s);
    }
    return s;
  }

  /** EVALSHA sha numkeys keys… args…, and the EVAL to send instead when the server answers NOSCRIPT. */
  call(commands: readonly Args[]): { readonly evalsha: (string | Buffer)[]; readonly eval: (string | Buffer)[] } {
    const script = this.#script(commands);
    const keys: (string | Buffer)[] = [];
    const argv: (string | Buffer)[] = [];
    for (const c of commands) {
      const positions = keyPositions(String(c[0]), c.length - 1);
      c.slice(1).forEach((arg, i) => (positions[i] === true ? keys : argv).push(arg));
    }
    const tail = [String(keys.length), ...keys, ...argv];
    return { evalsha: ['EVALSHA', script.sha, ...tail], eval: ['EVAL', script.text, ...tail] };
  }
}
