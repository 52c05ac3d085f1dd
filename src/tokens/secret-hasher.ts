// Mints secrets and computes the keyed hashes that are stored instead of them.
import { generateToken, keyedHasher, tokenHint } from './token-format';

export interface MintedSecret {
  /** The plaintext: handed to the caller once, never stored, logged or queued. */
  secret: string;
  hash: string;
  hint: string;
}

export class SecretHasher {
  private readonly keyed: (secret: string) => string;

  constructor(pepper: Buffer) {
    this.keyed = keyedHasher(pepper);
  }

  mint(): MintedSecret {
    const secret = generateToken();
    return { secret, hash: this.hash(secret), hint: tokenHint(secret) };
  }

  hash(secret: string): string {
    return this.keyed(secret);
  }
}
