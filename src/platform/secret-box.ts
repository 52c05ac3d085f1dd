// AES-256-GCM for what must be recoverable (webhook signing secrets, successor secrets): each
// ciphertext records the id of the key that sealed it, so keys can be rotated later.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface Sealed {
  ciphertext: string;
  keyId: string;
}

export class SecretBox {
  constructor(
    private readonly key: Buffer,
    readonly keyId: string,
  ) {}

  /** Seals a value; `context` (a row id, say) is bound in, so a ciphertext cannot be moved to another row. */
  seal(plaintext: string, context: string): Sealed {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64'), keyId: this.keyId };
  }

  open(sealed: Sealed, context: string): string {
    if (sealed.keyId !== this.keyId) throw new Error(`sealed with key ${sealed.keyId}, which this process does not hold`);
    const raw = Buffer.from(sealed.ciphertext, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
