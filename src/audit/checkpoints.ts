// Signed checkpoints of each tenant's audit chain (Ed25519): an auditor holding the public key can
// prove that a log was not rewritten, nor cut short, without trusting the server.
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './audit-chain';

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
// SubjectPublicKeyInfo wrapping of a raw 32-byte Ed25519 public key.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface SignedHead {
  tenantId: string;
  seq: number;
  hash: string;
}

/** The bytes that are signed: canonical JSON of tenant, seq and chain hash. */
export function signedBytes(h: SignedHead): Buffer {
  return Buffer.from(canonicalJson({ tenantId: h.tenantId, seq: h.seq, hash: h.hash }), 'utf8');
}

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function keyIdOf(publicRaw: Buffer): string {
  return createHash('sha256').update(publicRaw).digest('hex').slice(0, 16);
}

export function verifyHead(h: SignedHead, signature: string, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedBytes(h), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export interface PublicKeyEntry {
  keyId: string;
  algorithm: 'Ed25519';
  publicKey: string;
  /** Verifies checkpoints signed before; signs nothing new. */
  retired?: true;
}

function publicRawOf(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

const privateKeyOf = (seed: Buffer) =>
  createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });

export class AuditSigner {
  private readonly privateKey: KeyObject;
  readonly publicRaw: Buffer;
  readonly keyId: string;
  private readonly entries: PublicKeyEntry[];
  private readonly verifiers = new Map<string, KeyObject>();

  constructor(seed: Buffer, retiredSeeds: readonly Buffer[] = []) {
    this.privateKey = privateKeyOf(seed);
    this.publicRaw = publicRawOf(this.privateKey);
    this.keyId = keyIdOf(this.publicRaw);
    this.entries = [{ keyId: this.keyId, algorithm: 'Ed25519', publicKey: this.publicRaw.toString('base64') }];
    this.verifiers.set(this.keyId, publicKeyFromRaw(this.publicRaw));
    for (const retired of retiredSeeds) {
      const raw = publicRawOf(privateKeyOf(retired));
      const keyId = keyIdOf(raw);
      this.entries.push({ keyId, algorithm: 'Ed25519', publicKey: raw.toString('base64'), retired: true });
      this.verifiers.set(keyId, publicKeyFromRaw(raw));
    }
  }

  sign(h: SignedHead): string {
    return sign(null, signedBytes(h), this.privateKey).toString('base64');
  }

  /** Whether `signature` over `h` verifies with the key `keyId` (active or retired). */
  verify(h: SignedHead, keyId: string, signature: string): boolean {
    const key = this.verifiers.get(keyId);
    return !!key && verifyHead(h, signature, key);
  }

  /** What /v1/audit/keys serves: the active key first, then retired ones. */
  publicKeys(): PublicKeyEntry[] {
    return this.entries;
  }
}
