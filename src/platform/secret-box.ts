// AES-256-GCM under the key ring for what must be recoverable (webhook signing secrets, successor
// secrets, the data keys that seal credentials): each ciphertext records the id of the key that
// sealed it, so a ring that gains a new active key still opens what older keys sealed.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface Sealed {
  ciphertext: string;
  keyId: string;
}

export class SecretBox {
  constructor(
    private readonly keys: ReadonlyMap<string, Buffer>,
    /** The key that seals. */
    readonly keyId: string,
  ) {
    if (!keys.has(keyId)) throw new Error(`the key ring does not hold its active key ${keyId}`);
  }

  holds(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** The ids of every key in the ring. */
  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** Seals a value; `context` (a row id, say) is bound in, so a ciphertext cannot be moved to another row. */
  seal(plaintext: string, context: string): Sealed {
    return { ciphertext: sealWith(this.keys.get(this.keyId)!, plaintext, context), keyId: this.keyId };
  }

  open(sealed: Sealed, context: string): string {
    const key = this.keys.get(sealed.keyId);
    if (!key) throw new Error(`sealed with key ${sealed.keyId}, which the key ring does not hold`);
    return openWith(key, sealed.ciphertext, context);
  }
}

/** AES-256-GCM under `key`, with `context` as additional data: base64 of IV, tag and body. */
export function sealWith(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

/** Opens what sealWith sealed; throws when the key, the context or a byte differs. */
export function openWith(key: Buffer, ciphertext: string, context: string): string {
  const raw = Buffer.from(ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
