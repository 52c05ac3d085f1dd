import { describe, expect, it } from 'vitest';
import { decide, type SecretRecord } from '../../src/verify/verdict';

const now = 1_800_000_000_000;
const base: SecretRecord = {
  tokenId: 'tok',
  tenantId: 'ten',
  ownerId: 'own',
  secretState: 'CURRENT',
  graceEndsAt: null,
  tokenStatus: 'ACTIVE',
  kind: 'CONTROL',
  expiresAt: null,
  scopes: ['crm:sales:read'],
  version: 1,
  createdAt: now - 1000,
  rateLimit: null,
  allowedCidrs: null,
};

describe('verification decision', () => {
  it('accepts a current secret with the scopes asked for', () => {
    const r = decide(base, 'ten', ['crm:sales:read'], now);
    expect(r).toMatchObject({
      valid: true,
      failure: null,
      tokenId: 'tok',
      scopes: ['crm:sales:read'],
      rotationPending: false,
    });
  });

  it('answers NOT_FOUND for unknown and for another tenant, revealing nothing', () => {
    expect(decide(null, 'ten', [], now)).toMatchObject({ valid: false, failure: 'NOT_FOUND', tokenId: null });
    expect(decide(base, 'other', [], now)).toMatchObject({
      valid: false,
      failure: 'NOT_FOUND',
      tokenId: null,
      ownerId: null,
    });
  });

  it('checks failures in the contract order', () => {
    // Everything wrong at once: REVOKED wins, then SUSPENDED, then EXPIRED, then scope.
    const all: SecretRecord = { ...base, tokenStatus: 'REVOKED', secretState: 'RETIRED', expiresAt: now - 1 };
    expect(decide(all, 'ten', ['x:y:read'], now).failure).toBe('REVOKED');
    expect(decide({ ...all, tokenStatus: 'SUSPENDED' }, 'ten', ['x:y:read'], now).failure).toBe('SUSPENDED');
    expect(decide({ ...all, tokenStatus: 'ACTIVE' }, 'ten', ['x:y:read'], now).failure).toBe('EXPIRED');
    expect(decide(base, 'ten', ['x:y:read'], now).failure).toBe('INSUFFICIENT_SCOPE');
  });

  it('decides expiry by the clock, to the millisecond', () => {
    expect(decide({ ...base, expiresAt: now + 1 }, 'ten', [], now).valid).toBe(true);
    expect(decide({ ...base, expiresAt: now }, 'ten', [], now).failure).toBe('EXPIRED');
    const previous: SecretRecord = { ...base, secretState: 'PREVIOUS', graceEndsAt: now + 1 };
    expect(decide(previous, 'ten', [], now)).toMatchObject({ valid: true, rotationPending: true });
    expect(decide({ ...previous, graceEndsAt: now }, 'ten', [], now).failure).toBe('EXPIRED');
    expect(decide({ ...base, secretState: 'RETIRED' }, 'ten', [], now).failure).toBe('EXPIRED');
    expect(decide({ ...base, secretState: 'REVOKED' }, 'ten', [], now).failure).toBe('REVOKED');
  });
});
