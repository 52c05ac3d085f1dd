// Everything sealed directly under the key ring (webhook and rotator signing secrets, successor
// secrets waiting for pickup) moves to the active key when the ring gains one, as the data keys
// do: otherwise dropping the old key would silently break what it sealed. Each domain declares its
// sealed columns; the worker re-seals them at start, and start-up names any row still sealed under
// a key the ring lacks.
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { SecretBox } from './secret-box';

export interface SealedColumn {
  table: string;
  ciphertext: string;
  keyId: string;
  /** The additional data each value was sealed with is this prefix and the row's id. */
  contextPrefix: string;
}

const BATCH = 200;

export class Resealer {
  constructor(
    private readonly ds: DataSource,
    private readonly box: SecretBox,
    private readonly columns: readonly SealedColumn[],
    private readonly log: Logger,
  ) {}

  /** Re-seals under the active key every value sealed under another key the ring holds. Returns how many moved. */
  async reseal(): Promise<number> {
    let moved = 0;
    for (const c of this.columns) {
      for (;;) {
        const n = await this.ds.transaction(async (tx) => {
          const rows: Array<{ id: string; ciphertext: string; key_id: string }> = await tx.query(
            `SELECT id, ${c.ciphertext} AS ciphertext, ${c.keyId} AS key_id FROM ${c.table}
              WHERE ${c.keyId} IS NOT NULL AND ${c.keyId} <> $1 AND ${c.keyId} = ANY($2) ORDER BY id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
            [this.box.keyId, this.box.keyIds()],
          );
          for (const r of rows) {
            const context = `${c.contextPrefix}${r.id}`;
            const sealed = this.box.seal(
              this.box.open({ ciphertext: r.ciphertext, keyId: r.key_id }, context),
              context,
            );
            await tx.query(`UPDATE ${c.table} SET ${c.ciphertext} = $2, ${c.keyId} = $3 WHERE id = $1`, [
              r.id,
              sealed.ciphertext,
              sealed.keyId,
            ]);
          }
          return rows.length;
        });
        moved += n;
        if (n < BATCH) break;
      }
    }
    if (moved > 0) this.log.info({ moved, keyId: this.box.keyId }, 're-sealed secrets under the active key');
    return moved;
  }

  /** Rows sealed under keys the ring does not hold, by table, column and key id. */
  async unreadable(): Promise<Array<{ table: string; column: string; keyId: string; rows: number }>> {
    const found = [];
    for (const c of this.columns) {
      const rows: Array<{ key_id: string; n: number }> = await this.ds.query(
        `SELECT ${c.keyId} AS key_id, count(*)::int AS n FROM ${c.table} WHERE ${c.keyId} IS NOT NULL AND NOT (${c.keyId} = ANY($1)) GROUP BY 1`,
        [this.box.keyIds()],
      );
      found.push(...rows.map((r) => ({ table: c.table, column: c.ciphertext, keyId: r.key_id, rows: r.n })));
    }
    return found;
  }
}
