// Where key-encryption keys live, behind the small interface a KMS would implement: wrap a data
// key under the active key, unwrap one under the key id recorded beside it. The local provider
// holds the ring of ENCRYPTION_KEYS in memory; a KMS provider would keep the keys in the KMS and
// make the same two calls over the network (hence the promises).
import type { SecretBox } from './secret-box';

export interface KeyProvider {
  /** The key that wraps new data keys, and that re-wrapping moves old ones under. */
  readonly activeKeyId: string;
  holds(keyId: string): boolean;
  wrap(dataKey: Buffer, context: string): Promise<{ keyId: string; wrapped: string }>;
  /** Throws when the key is not held or does not open the wrapped key (a wrong key, a moved row). */
  unwrap(keyId: string, wrapped: string, context: string): Promise<Buffer>;
}

export class LocalKeyProvider implements KeyProvider {
  constructor(private readonly ring: SecretBox) {}

  get activeKeyId(): string {
    return this.ring.keyId;
  }

  holds(keyId: string): boolean {
    return this.ring.holds(keyId);
  }

  async wrap(dataKey: Buffer, context: string): Promise<{ keyId: string; wrapped: string }> {
    const sealed = this.ring.seal(dataKey.toString('base64'), context);
    return { keyId: sealed.keyId, wrapped: sealed.ciphertext };
  }

  async unwrap(keyId: string, wrapped: string, context: string): Promise<Buffer> {
    return Buffer.from(this.ring.open({ keyId, ciphertext: wrapped }, context), 'base64');
  }
}
