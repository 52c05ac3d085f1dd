import type { MigrationInterface, QueryRunner } from 'typeorm';

// Usage rows are updated in place by every flush (once per token per interval) and never change
// an indexed column: room left on each page lets Postgres make those HOT updates, which skip the
// index and leave less to vacuum. Applies to pages written from now on.
export class UsageFillfactor1764630000000 implements MigrationInterface {
  name = 'UsageFillfactor1764630000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE token_usage SET (fillfactor = 70)`);
    await q.query(`ALTER TABLE token_usage_daily SET (fillfactor = 70)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE token_usage RESET (fillfactor)`);
    await q.query(`ALTER TABLE token_usage_daily RESET (fillfactor)`);
  }
}
