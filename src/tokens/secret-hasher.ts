// Mints secrets and computes the keyed hashes that are stored instead of them.
import { generateToken, hashToken, tokenHint } from './token-format';

export interface MintedSecret {
  /** The plaintext: handed to the caller once, never stored, logged or queued. */
  secret: string;
  hash: string;
  hint: string;
}

export class SecretHasher {
  constructor(private readonly pepper: Buffer) {}

  mint(): MintedSecret {
    const secret = generateToken();
    return { secret, hash: this.hash(secret), hint: tokenHint(secret) };
  }

  hash(secret: string): string {
    return hashToken(this.pepper, secret);
  }
}
