// A successor made by a scheduled rotation waits, sealed under the key ring with its own id as the
// additional data, until the holders of the secret before it pick it up: both halves of the seal
// are here, so what the rotation seals is exactly what a pickup can open.
import type { Sealed, SecretBox } from '../platform/secret-box';

export class SuccessorSeal {
  constructor(private readonly box: SecretBox) {}

  seal(secretId: string, secret: string): Sealed {
    return this.box.seal(secret, secretId);
  }

  open(secret: { id: string; sealed: string; sealedKeyId: string }): string {
    return this.box.open({ ciphertext: secret.sealed, keyId: secret.sealedKeyId }, secret.id);
  }
}
