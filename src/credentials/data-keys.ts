// Per-tenant data keys: each tenant's credential values are sealed with a key of its own, which
// is stored only wrapped by a key of the ring. Unwrapped data keys live in this process's memory
// (never in Redis, a log or an error). Moving the ring to a new active key re-wraps every data key
// in the background, one tenant at a time and audited; values are never re-sealed for it.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { Tx } from '../platform/db';
import { uuidv7 } from '../platform/ids';
import type { KeyProvider } from '../platform/keyring';
import { openWith, sealWith } from '../platform/secret-box';

export interface DataKey {
  id: string;
  key: Buffer;
}

/** The additional data a wrapped data key is bound to: its tenant and its own id. */
const wrapContext = (tenantId: string, id: string) => `latchkey:data-key:${tenantId}:${id}`;

export class KeyRingError extends Error {}

export class DataKeys {
  private readonly keys = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly ds: DataSource,
    private readonly provider: KeyProvider,
    private readonly audit: AuditService,
    private readonly log: Logger,
  ) {}

  /** The tenant's data key, created (wrapped under the active key, audited) on first use. */
  async forTenant(tx: Tx, tenantId: string): Promise<DataKey> {
    const [row] = await tx.query(`SELECT id, key_id, wrapped_key FROM tenant_data_keys WHERE tenant_id = $1`, [
      tenantId,
    ]);
    if (row) return { id: row.id, key: await this.unwrapped(tenantId, row.id, row.key_id, row.wrapped_key) };
    const id = uuidv7();
    const key = randomBytes(32);
    const { keyId, wrapped } = await this.provider.wrap(key, wrapContext(tenantId, id));
    const inserted = await tx.query(
      `INSERT INTO tenant_data_keys (id, tenant_id, key_id, wrapped_key) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO NOTHING RETURNING id`,
      [id, tenantId, keyId, wrapped],
    );
    if (inserted.length === 0) return this.forTenant(tx, tenantId); // another transaction created it first
    await this.audit.append(tx, tenantId, {
      action: 'DATA_KEY_CREATED',
      actorId: null,
      targetType: 'DATA_KEY',
      targetId: id,
      data: { keyId },
    });
    this.keys.set(id, Promise.resolve(key));
    return { id, key };
  }

  /** A data key by id, for opening what it sealed. */
  async get(tenantId: string, id: string): Promise<Buffer> {
    const cached = this.keys.get(id);
    if (cached) return cached;
    const [row] = await this.ds.query(
      `SELECT key_id, wrapped_key FROM tenant_data_keys WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id],
    );
    if (!row) throw new KeyRingError(`data key ${id} of tenant ${tenantId} is missing`);
    return this.unwrapped(tenantId, id, row.key_id, row.wrapped_key);
  }

  seal(key: DataKey, value: string, context: string): string {
    return sealWith(key.key, value, context);
  }

  async open(tenantId: string, dataKeyId: string, ciphertext: string, context: string): Promise<string> {
    return openWith(await this.get(tenantId, dataKeyId), ciphertext, context);
  }

  private unwrapped(tenantId: string, id: string, keyId: string, wrapped: string): Promise<Buffer> {
    let key = this.keys.get(id);
    if (!key) {
      key = this.provider.unwrap(keyId, wrapped, wrapContext(tenantId, id)).catch((err) => {
        this.keys.delete(id);
        throw new KeyRingError(
          `the data key of tenant ${tenantId} is wrapped by key ${keyId}, which ${this.provider.holds(keyId) ? 'does not open it (a wrong key under that id?)' : 'the key ring does not hold'}`,
          { cause: err },
        );
      });
      this.keys.set(id, key);
    }
    return key;
  }

  /**
   * Start-up's check: every key id that wraps a data key is in the ring and opens one of them.
   * A missing or wrong key stops the process here, naming the key id, rather than at the first reveal.
   */
  async checkRing(): Promise<void> {
    const rows: Array<{ key_id: string; tenant_id: string; id: string; wrapped_key: string }> = await this.ds.query(
      `SELECT DISTINCT ON (key_id) key_id, tenant_id, id, wrapped_key FROM tenant_data_keys ORDER BY key_id, id`,
    );
    for (const r of rows) {
      if (!this.provider.holds(r.key_id))
        throw new KeyRingError(
          `data keys are wrapped by key ${r.key_id}, which ENCRYPTION_KEYS does not hold: add it back to the ring`,
        );
      try {
        await this.provider.unwrap(r.key_id, r.wrapped_key, wrapContext(r.tenant_id, r.id));
      } catch {
        throw new KeyRingError(
          `key ${r.key_id} of ENCRYPTION_KEYS does not open the data keys it wrapped: it is not the key that had this id`,
        );
      }
    }
  }

  /**
   * Re-wraps, under the active key, every data key wrapped by another one: one row per
   * transaction, locked and re-checked, audited in its tenant. Returns how many moved.
   */
  async rewrap(): Promise<number> {
    let moved = 0;
    for (;;) {
      const done = await this.ds.transaction(async (tx) => {
        const [row] = await tx.query(
          `SELECT id, tenant_id, key_id, wrapped_key FROM tenant_data_keys WHERE key_id <> $1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [this.provider.activeKeyId],
        );
        if (!row) return false;
        const key = await this.provider.unwrap(row.key_id, row.wrapped_key, wrapContext(row.tenant_id, row.id));
        const { keyId, wrapped } = await this.provider.wrap(key, wrapContext(row.tenant_id, row.id));
        await tx.query(
          `UPDATE tenant_data_keys SET key_id = $2, wrapped_key = $3, rewrapped_at = now() WHERE id = $1`,
          [row.id, keyId, wrapped],
        );
        await this.audit.append(tx, row.tenant_id, {
          action: 'DATA_KEY_REWRAPPED',
          actorId: null,
          targetType: 'DATA_KEY',
          targetId: row.id,
          data: { from: row.key_id, to: keyId },
        });
        return true;
      });
      if (!done) break;
      moved++;
    }
    if (moved > 0)
      this.log.info({ moved, keyId: this.provider.activeKeyId }, 're-wrapped data keys under the active key');
    return moved;
  }
}
