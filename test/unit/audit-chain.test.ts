import { describe, expect, it } from 'vitest';
import { canonicalJson, ChainChecker, type ChainLink, eventHash, GENESIS_HASH } from '../../src/audit/audit-chain';

function chain(n: number): ChainLink[] {
  const links: ChainLink[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = {
      tenantId: 't1',
      seq,
      at: new Date(1_700_000_000_000 + seq).toISOString(),
      action: 'TOKEN_ISSUED',
      actorId: null,
      targetType: 'TOKEN',
      targetId: `id-${seq}`,
      data: { n: seq, nested: { b: 1, a: [1, { z: 1, y: 2 }] } },
    };
    const hash = eventHash(prev, e);
    links.push({ ...e, prevHash: prev, hash });
    prev = hash;
  }
  return links;
}

describe('audit chain', () => {
  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"x":2,"y":1}]},"b":1}',
    );
  });

  it('hash is SHA-256 over prevHash then the canonical event', async () => {
    const { createHash } = await import('node:crypto');
    const e = {
      tenantId: 't',
      seq: 1,
      at: '2026-01-01T00:00:00.000Z',
      action: 'A_B',
      actorId: null,
      targetType: 'X',
      targetId: 'y',
      data: {},
    };
    const expected = createHash('sha256')
      .update(
        GENESIS_HASH +
          canonicalJson({
            tenantId: 't',
            seq: 1,
            at: e.at,
            action: 'A_B',
            actorId: null,
            targetType: 'X',
            targetId: 'y',
            data: {},
          }),
      )
      .digest('hex');
    expect(eventHash(GENESIS_HASH, e)).toBe(expected);
  });

  it('accepts an intact chain', () => {
    const c = new ChainChecker();
    for (const l of chain(50)) expect(c.add(l)).toBe(true);
    expect(c.firstBrokenSeq).toBeNull();
    expect(c.checked).toBe(50);
  });

  it('names the first changed event', () => {
    const links = chain(20);
    links[6] = { ...links[6]!, data: { n: 999 } };
    const c = new ChainChecker();
    links.forEach((l) => c.add(l));
    expect(c.firstBrokenSeq).toBe(7);
  });

  it('names a missing event', () => {
    const links = chain(20).filter((l) => l.seq !== 12);
    const c = new ChainChecker();
    links.forEach((l) => c.add(l));
    expect(c.firstBrokenSeq).toBe(12);
  });

  it('detects a re-hashed event through the next back-link', () => {
    const links = chain(5);
    const forged = { ...links[2]!, data: { forged: true } };
    forged.hash = eventHash(forged.prevHash, forged);
    links[2] = forged;
    const c = new ChainChecker();
    links.forEach((l) => c.add(l));
    expect(c.firstBrokenSeq).toBe(4);
  });
});
