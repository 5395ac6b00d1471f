import { type ClusterNode, keySlot } from '../targets/cluster-nodes.js';
import { displayAddress } from '../config/servers.js';

/** Slots of a Redis Cluster. */
export const SLOTS = 16384;

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
