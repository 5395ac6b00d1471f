import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { findBinary } from './binaries.js';
import { LocalSetupError } from './errors.js';

/**
 * A private network for local servers (`--network namespaces`): a bridge on this host with its own /24 of 10.231.0.0/16
 * and, per server, a network namespace joined to it by a veth pair, with an address of its own. The client stays in
 * the host's namespace and reaches every server through the bridge, so a partition can cut one link (server to
 * server, or the client to a server) with blackhole routes in the namespaces while every other link keeps working.
 * `tc netem` is not needed (and not in every kernel): a blackhole route makes the kernel drop what is sent that way.
 */

/** Names cachebench gives: the bridge `cb<id>`, namespace i `cb<id>n<i>`, its host-side veth `cv<id>n<i>` (id: 6 hex). */
const BRIDGE_NAME = /^cb[0-9a-f]{6}$/;
const NAMESPACE_NAME = /^cb[0-9a-f]{6}n\d{1,3}$/;
/** Most namespaces one network holds (a /24: the bridge is .1, servers .2 to .254). */
const MAX_NODES = 250;

/** What an ownership file records of a deployment's network, so the next run removes it should its owner die. */
export interface NetworkRecord {
  readonly bridge: string;
  readonly namespaces: readonly string[];
}

/** Why a recorded network is not one cachebench made (a name outside its patterns), or undefined. */
export function networkRecordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const r = value as Record<string, unknown>;
  if (typeof r.bridge !== 'string' || !BRIDGE_NAME.test(r.bridge)) return 'bridge is not cb<6 hex digits>';
  if (!Array.isArray(r.namespaces) || r.namespaces.length > MAX_NODES) return `namespaces is not a list of at most ${MAX_NODES}`;
  const id = r.bridge.slice(2);
  if (r.namespaces.some((n) => typeof n !== 'string' || !NAMESPACE_NAME.test(n) || n.slice(2, 8) !== id)) return `a namespace is not cb${id}n<number>`;
  return undefined;
}

/** One server's place on the network. */
export interface NodeNet {
  /** Its namespace's name (under /run/netns). */
  readonly namespace: string;
  /** Its address on the bridge, e.g. 10.231.17.2. */
  readonly address: string;
}

/** Why namespaces cannot be made here (not root, no `ip` or `nsenter`), or undefined when they can. */
export function namespacesProblem(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces are Linux's, and this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'making network namespaces, a bridge and veth pairs needs root (CAP_NET_ADMIN), and cachebench runs as a user';
  for (const binary of ['ip', 'nsenter']) {
    if (findBinary(binary) === undefined) return `${binary} is not installed (Debian: ${binary === 'ip' ? 'iproute2' : 'util-linux'})`;
  }
  return undefined;
}

/** Runs `ip` with these arguments; throws with its message unless `tolerate` matches the error. */
function ip(args: readonly string[], tolerate?: RegExp): string {
  const result = spawnSync(findBinary('ip') ?? 'ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status === 0) return result.stdout;
  const message = (result.stderr || result.error?.message || `exit status ${String(result.status)}`).trim();
  if (tolerate?.test(message) === true) return '';
  throw new LocalSetupError(`ip ${args.join(' ')}: ${message}. Fix: run as root on Linux with iproute2, or run without --network namespaces`);
}

/**
 * Removes a recorded network, never throwing: each veth pair (deleting one end takes the other; a namespace deleted
 * with its end still inside frees it only later, in the kernel's own time), each namespace, then the bridge.
 */
export function removeNetwork(record: NetworkRecord): void {
  if (networkRecordProblem(record) !== undefined) return;
  for (const ns of record.namespaces) {
    for (const args of [['link', 'delete', `cv${ns.slice(2)}`], ['netns', 'delete', ns]]) {
      try {
        ip(args, /No such file|not exist|Cannot find device|Invalid/i);
      } catch (error: unknown) {
        void error; // already gone, or the next run's reaping tries again
      }
    }
  }
  try {
    ip(['link', 'delete', record.bridge], /Cannot find device|not exist/i);
  } catch (error: unknown) {
    void error;
  }
}

/** Third octets of 10.231.x.0/24 networks some interface or route on this host already uses. */
function subnetsInUse(): Set<number> {
  const used = new Set<number>();
  const text = `${ip(['-4', '-o', 'addr', 'show'])}\n${ip(['-4', 'route', 'show', 'table', 'all'])}`;
  for (const match of text.matchAll(/\b10\.231\.(\d{1,3})\./g)) used.add(Number(match[1]));
  if (/\b10\.(?:231\.0\.0\/16|0\.0\.0\/8)\b/.test(text)) for (let i = 0; i < 256; i++) used.add(i);
  return used;
}

/** The interfaces that hold `address` (IPv4), by name. */
function holders(address: string): string[] {
  return ip(['-4', '-o', 'addr', 'show']).split('\n').filter((l) => l.includes(` ${address}/`)).map((l) => l.split(/\s+/)[1] ?? '').filter((n) => n !== '');
}

/**
 * A bridge with its subnet and the namespaces joined to it. `record` is told the names before each is made, so the
 * ownership file always names everything that may exist (also after SIGKILL between two steps).
 */
export class PrivateNetwork {
  readonly bridge: string;
  /** e.g. `10.231.17`: the /24's first three octets. */
  readonly prefix: string;
  /** The host's address on the bridge (where the client's connections come from). */
  readonly hostAddress: string;
  readonly #id: string;
  readonly #nodes: NodeNet[] = [];
  readonly #record: (r: NetworkRecord) => void;
  /** Blackhole routes in place, as `namespace address`. */
  readonly #cuts = new Set<string>();
  /** Blackhole rules in place (cutFlows), as `namespace port`. */
  readonly #flowCuts = new Set<string>();
  #removed = false;

  private constructor(id: string, third: number, record: (r: NetworkRecord) => void) {
    this.#id = id;
    this.bridge = `cb${id}`;
    this.prefix = `10.231.${third}`;
    this.hostAddress = `${this.prefix}.1`;
    this.#record = record;
  }

  /**
   * Makes the bridge on a free 10.231.x.0/24. Two runs starting at once may pick the same subnet: after taking it,
   * the bridge whose name sorts later gives it up and tries another.
   */
  static create(record: (r: NetworkRecord) => void): PrivateNetwork {
    const problem = namespacesProblem();
    if (problem !== undefined) throw new LocalSetupError(`cannot give local servers network namespaces: ${problem}. Fix: run as root on Linux, or without --network namespaces (partition faults need it)`);
    for (let attempt = 0; attempt < 8; attempt++) {
      const used = subnetsInUse();
      const free = Array.from({ length: 254 }, (_, i) => i + 1).filter((i) => !used.has(i));
      const third = free[randomBytes(2).readUInt16BE(0) % Math.max(1, free.length)];
      if (third === undefined) throw new LocalSetupError('no free 10.231.x.0/24 network on this host for a private bridge. Fix: remove bridges left by other tools');
      const network = new PrivateNetwork(randomBytes(3).toString('hex'), third, record);
      network.#save();
      try {
        ip(['link', 'add', network.bridge, 'type', 'bridge']);
        ip(['addr', 'add', `${network.hostAddress}/24`, 'dev', network.bridge]);
        ip(['link', 'set', network.bridge, 'up']);
      } catch (error: unknown) {
        network.remove();
        throw error;
      }
      const others = holders(network.hostAddress).filter((n) => n !== network.bridge);
      if (others.every((n) => n > network.bridge)) return network;
      network.remove();
    }
    throw new LocalSetupError('could not find a 10.231.x.0/24 network no other run took meanwhile. Fix: run again');
  }

  /** The network as the report says it. */
  describe(): string {
    return `namespaces: each Redis server in a network namespace of its own on bridge ${this.bridge} (${this.prefix}.0/24), the client in the host's at ${this.hostAddress}; ` +
      'memcached servers and twemproxy itself on 127.0.0.1';
  }

  /** Every namespace made so far. */
  get nodes(): readonly NodeNet[] {
    return this.#nodes;
  }

  #save(): void {
    this.#record({ bridge: this.bridge, namespaces: this.#nodes.map((n) => n.namespace) });
  }

  /** A new namespace joined to the bridge, with the next address. */
  addNode(): NodeNet {
    if (this.#removed) throw new LocalSetupError('the private network was removed');
    const i = this.#nodes.length;
    if (i >= MAX_NODES) throw new LocalSetupError(`a private network holds at most ${MAX_NODES} servers`);
    const node: NodeNet = { namespace: `cb${this.#id}n${i}`, address: `${this.prefix}.${i + 2}` };
    this.#nodes.push(node);
    this.#save();
    const veth = `cv${this.#id}n${i}`;
    ip(['netns', 'add', node.namespace]);
    ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.namespace]);
    ip(['link', 'set', veth, 'master', this.bridge, 'up']);
    ip(['-n', node.namespace, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0']);
    ip(['-n', node.namespace, 'link', 'set', 'eth0', 'up']);
    ip(['-n', node.namespace, 'link', 'set', 'lo', 'up']);
    return node;
  }

  /** The node whose address this is, if any. */
  nodeAt(address: string): NodeNet | undefined {
    return this.#nodes.find((n) => n.address === address);
  }

  /**
   * Cuts every link between the two sides: each namespace of one side drops what it sends to the other side's
   * addresses (a side may name the host's address: the client). Links within a side are left as they are.
   */
  cut(a: readonly string[], b: readonly string[]): void {
    for (const [from, to] of [[a, b], [b, a]] as const) {
      for (const source of from) {
        const node = this.nodeAt(source);
        if (node === undefined) continue; // the host: its packets to a node are dropped by the node's route back
        for (const target of to) {
          const cut = `${node.namespace} ${target}`;
          if (this.#cuts.has(cut) || target === source) continue;
          ip(['-n', node.namespace, 'route', 'add', 'blackhole', `${target}/32`]);
          this.#cuts.add(cut);
        }
      }
    }
  }

  /**
   * Cuts single connections of the host's: `server`'s namespace drops what it sends to the host's address at each of
   * `ports` (the connections' ports on the host). The server then neither answers nor acknowledges them; the host's
   * other connections, and new ones, still get through. Returns how many were cut.
   */
  cutFlows(server: string, ports: readonly number[]): number {
    const node = this.nodeAt(server);
    if (node === undefined) throw new Error(`${server} is not a server in this network`);
    let n = 0;
    for (const port of ports) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a port: ${port}`);
      const cut = `${node.namespace} ${port}`;
      if (this.#flowCuts.has(cut)) continue;
      ip(['-n', node.namespace, 'rule', 'add', 'to', `${this.hostAddress}/32`, 'dport', String(port), 'blackhole']);
      this.#flowCuts.add(cut);
      n++;
    }
    return n;
  }

  /** Takes every cut away; returns how many routes and rules it removed. */
  healAll(): number {
    let n = 0;
    for (const cut of [...this.#flowCuts]) {
      const [ns, port] = cut.split(' ') as [string, string];
      ip(['-n', ns, 'rule', 'del', 'to', `${this.hostAddress}/32`, 'dport', port, 'blackhole'], /No such|not exist|Cannot find/i);
      this.#flowCuts.delete(cut);
      n++;
    }
    for (const cut of [...this.#cuts]) {
      const [ns, target] = cut.split(' ') as [string, string];
      ip(['-n', ns, 'route', 'del', 'blackhole', `${target}/32`], /No such process|not exist|Cannot find/i);
      this.#cuts.delete(cut);
      n++;
    }
    return n;
  }

  /** Removes every namespace and the bridge (what the ownership file named); safe to call twice. */
  remove(): void {
    this.#removed = true;
    removeNetwork({ bridge: this.bridge, namespaces: this.#nodes.map((n) => n.namespace) });
  }
}
