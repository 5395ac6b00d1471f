/** One line of CLUSTER NODES. */
export interface ClusterNode {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly flags: readonly string[];
  /** The primary's id for a replica; '-' for a primary. */
  readonly primaryId: string;
  /** Slot ranges served, [first, last] inclusive (migrating/importing markers left out). */
  readonly slots: readonly (readonly [number, number])[];
  readonly primary: boolean;
  /** Flagged fail, fail?, handshake or noaddr: not to be relied on. */
  readonly failing: boolean;
}

/** Parses CLUSTER NODES output (`<id> <ip:port@cport[,hostname]> <flags> <primary> <ping> <pong> <epoch> <link> <slot>...`). */
export function parseClusterNodes(text: string): ClusterNode[] {
  const nodes: ClusterNode[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 8) continue;
    const [id = '', addressField = '', flagField = '', primaryId = ''] = f;
    const address = addressField.split('@')[0] ?? '';
    const colon = address.lastIndexOf(':');
    const host = colon > 0 ? address.slice(0, colon).replace(/^\[|\]$/g, '') : '';
    const port = colon > 0 ? Number(address.slice(colon + 1)) : 0;
    const flags = flagField.split(',');
    const slots: [number, number][] = [];
    for (const range of f.slice(8)) {
      if (range.startsWith('[')) continue;
      const [a, b] = range.split('-').map(Number);
      if (a !== undefined && Number.isInteger(a)) slots.push([a, b !== undefined && Number.isInteger(b) ? b : a]);
    }
    nodes.push({
      id, host, port, flags, primaryId, slots,
      primary: flags.includes('master'),
      failing: flags.some((x) => ['fail', 'fail?', 'handshake', 'noaddr'].includes(x)) || port <= 0,
    });
  }
  return nodes;
}

/** The primary serving `slot` (not failing), if any. */
export function primaryOfSlot(nodes: readonly ClusterNode[], slot: number): ClusterNode | undefined {
  return nodes.find((n) => n.primary && !n.failing && n.slots.some(([a, b]) => slot >= a && slot <= b));
}

/** The replicas of a primary that are not failing. */
export function replicasOf(nodes: readonly ClusterNode[], primary: ClusterNode): ClusterNode[] {
  return nodes.filter((n) => !n.primary && n.primaryId === primary.id && !n.failing);
}

/** `0-5460` or `0-5460, 10923-16383`. */
export function slotsText(node: ClusterNode): string {
  return node.slots.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(', ') || 'none';
}

/**
 * The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its {hash tag}, mod 16384.
 * Used to name the node behind a failed op and to route commands by slot (no driver needed to load it).
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= (bytes[i] ?? 0) << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
