// Audit checkpoints' signing keys: the active one signs, retired ones still verify.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditSigner } from '../../src/audit/checkpoints';

describe('audit signing keys', () => {
  it('verifies checkpoints signed with a retired key, and signs only with the active one', () => {
    const old = new AuditSigner(randomBytes(32));
    const head = { tenantId: 't', seq: 10, hash: 'a'.repeat(64) };
    const signedBefore = old.sign(head);
    const retiredSeed = randomBytes(32);
    const before = new AuditSigner(retiredSeed);
    const now = new AuditSigner(randomBytes(32), [retiredSeed]);
    expect(now.verify(head, before.keyId, before.sign(head))).toBe(true);
    expect(now.verify(head, now.keyId, now.sign(head))).toBe(true);
    expect(now.verify(head, old.keyId, signedBefore)).toBe(false);
    expect(now.publicKeys().map((k) => k.retired ?? false)).toEqual([false, true]);
    expect(now.keyId).not.toBe(before.keyId);
  });
});
