import type { ClusterNode } from '../targets/cluster-nodes.js';
import { displayAddress } from '../config/servers.js';

/** Slots of a Redis Cluster. */
export const SLOTS = 16384;

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with (cluster spec, "Keys distribution model"). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ (bytes[i] as number)) & 0xff] as number);
  return crc;
}

/** The cluster slot of a key: CRC16 mod 16384 of the key, or of its hash tag (the text between the first `{` and the next `}`, if not empty). */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes, open + 1, close) % SLOTS;
  }
  return crc16(bytes) % SLOTS;
}

/** A primary and the slot ranges it served when a throughput run started. */
export interface SlotOwner {
  readonly node: string;
  readonly slots: readonly (readonly [number, number])[];
}

/** The primaries of CLUSTER NODES (not failing) with their slots, in address order. */
export function slotOwners(nodes: readonly ClusterNode[]): SlotOwner[] {
  return nodes
    .filter((n) => n.primary && !n.failing && n.slots.length > 0)
    .map((n) => ({ node: displayAddress(n.host, n.port), slots: n.slots }))
    .sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true }));
}

/** `0-5460` or `0-5460, 10923-16383`. */
export function rangesText(slots: SlotOwner['slots']): string {
  return slots.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(', ');
}

/** Maps keys to the index of the primary serving their slot (-1: no owner known). */
export class SlotMap {
  readonly #owner = new Int16Array(SLOTS).fill(-1);

  constructor(readonly owners: readonly SlotOwner[]) {
    owners.forEach((o, i) => {
      for (const [a, b] of o.slots) this.#owner.fill(i, a, b + 1);
    });
  }

  ownerOf(key: string): number {
    return this.#owner[keySlot(key)] as number;
  }
}
