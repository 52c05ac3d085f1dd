// The hash chain, as pure functions shared by the server, its chain check and the offline
// verifier: hash = SHA-256(prevHash ‖ canonical JSON of the event).
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainFields {
  tenantId: string;
  seq: number;
  at: Date | string;
  action: string;
  actorId: string | null;
  targetType: string;
  targetId: string;
  data: Record<string, unknown>;
}

/** JSON with object keys sorted at every depth and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function eventHash(prevHash: string, e: ChainFields): string {
  const body = canonicalJson({
    tenantId: e.tenantId,
    seq: e.seq,
    at: typeof e.at === 'string' ? e.at : e.at.toISOString(),
    action: e.action,
    actorId: e.actorId,
    targetType: e.targetType,
    targetId: e.targetId,
    data: e.data,
  });
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

export interface ChainLink extends ChainFields {
  prevHash: string;
  hash: string;
}

/**
 * Walks links in seq order and returns the first seq whose position, back-link or hash is
 * wrong, or null. `expected` carries the state from a previous batch.
 */
export class ChainChecker {
  checked = 0;
  firstBrokenSeq: number | null = null;
  constructor(
    private nextSeq = 1,
    private prevHash = GENESIS_HASH,
  ) {}

  /** Returns false once the chain is broken; later links are not checked. */
  add(link: ChainLink): boolean {
    if (this.firstBrokenSeq !== null) return false;
    this.checked++;
    const ok =
      link.seq === this.nextSeq && link.prevHash === this.prevHash && eventHash(link.prevHash, link) === link.hash;
    if (!ok) {
      this.firstBrokenSeq = Math.min(link.seq, this.nextSeq);
      return false;
    }
    this.nextSeq = link.seq + 1;
    this.prevHash = link.hash;
    return true;
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  get headHash(): string {
    return this.prevHash;
  }
}
