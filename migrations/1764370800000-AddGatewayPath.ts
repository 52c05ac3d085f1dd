import type { MigrationInterface, QueryRunner } from 'typeorm';

// The gateway path: a version per token that moves with every change verification depends on
// (so a cache fill that read an older state can be refused) and the transaction of that change
// (so every replica can poll for changes it may have missed, exactly, by snapshot xmin), rate
// limits, IP binding, and usage in narrow tables of its own: usage is written for every token in
// use every few seconds, and an update of the wide, heavily indexed tokens table costs far more.
export class AddGatewayPath1764370800000 implements MigrationInterface {
  name = 'AddGatewayPath1764370800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE tokens
        ADD COLUMN version bigint NOT NULL DEFAULT 1,
        ADD COLUMN changed_xid xid8 NOT NULL DEFAULT '0',
        ADD COLUMN rate_limit integer CHECK (rate_limit > 0),
        ADD COLUMN rate_window_s integer CHECK (rate_window_s > 0),
        ADD COLUMN allowed_cidrs cidr[],
        ADD CONSTRAINT tokens_rate_limit_pair CHECK ((rate_limit IS NULL) = (rate_window_s IS NULL))`);
    await q.query(`
      ALTER TABLE rotation_policies
        ADD COLUMN rate_limit integer CHECK (rate_limit > 0),
        ADD COLUMN rate_window_s integer CHECK (rate_window_s > 0),
        ADD CONSTRAINT rotation_policies_rate_limit_pair CHECK ((rate_limit IS NULL) = (rate_window_s IS NULL))`);
    // Every write a service makes sets updated_at; usage flushes do not, so they leave the version alone.
    await q.query(`
      CREATE FUNCTION tokens_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.version := OLD.version + 1;
        NEW.changed_xid := pg_current_xact_id();
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER tokens_version BEFORE UPDATE OF status, expires_at, generation, updated_at, rotation_policy_id,
        rate_limit, rate_window_s, allowed_cidrs ON tokens FOR EACH ROW EXECUTE FUNCTION tokens_bump_version()`);
    await q.query(`
      CREATE TABLE token_usage (
        tenant_id uuid NOT NULL,
        token_id uuid NOT NULL,
        usage_count bigint NOT NULL CHECK (usage_count >= 0),
        last_used_at timestamptz NOT NULL,
        last_client_ips text[] NOT NULL DEFAULT '{}',
        PRIMARY KEY (tenant_id, token_id),
        FOREIGN KEY (tenant_id, token_id) REFERENCES tokens (tenant_id, id) ON DELETE CASCADE
      )`);
    await q.query(`
      INSERT INTO token_usage (tenant_id, token_id, usage_count, last_used_at)
      SELECT tenant_id, id, usage_count, last_used_at FROM tokens WHERE last_used_at IS NOT NULL`);
    await q.query(`ALTER TABLE tokens DROP COLUMN usage_count, DROP COLUMN last_used_at`);
    await q.query(`
      CREATE TABLE token_usage_daily (
        tenant_id uuid NOT NULL,
        token_id uuid NOT NULL,
        day date NOT NULL,
        count bigint NOT NULL CHECK (count >= 0),
        PRIMARY KEY (tenant_id, token_id, day),
        FOREIGN KEY (tenant_id, token_id) REFERENCES tokens (tenant_id, id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX tokens_changed_idx ON tokens (changed_xid)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX tokens_changed_idx`);
    await q.query(`DROP TABLE token_usage_daily`);
    await q.query(
      `ALTER TABLE tokens ADD COLUMN last_used_at timestamptz, ADD COLUMN usage_count bigint NOT NULL DEFAULT 0`,
    );
    await q.query(`
      UPDATE tokens t SET last_used_at = u.last_used_at, usage_count = u.usage_count
        FROM token_usage u WHERE u.tenant_id = t.tenant_id AND u.token_id = t.id`);
    await q.query(`DROP TABLE token_usage`);
    await q.query(`DROP TRIGGER tokens_version ON tokens`);
    await q.query(`DROP FUNCTION tokens_bump_version()`);
    await q.query(
      `ALTER TABLE rotation_policies DROP CONSTRAINT rotation_policies_rate_limit_pair, DROP COLUMN rate_limit, DROP COLUMN rate_window_s`,
    );
    await q.query(`
      ALTER TABLE tokens DROP CONSTRAINT tokens_rate_limit_pair, DROP COLUMN version, DROP COLUMN changed_xid, DROP COLUMN rate_limit,
        DROP COLUMN rate_window_s, DROP COLUMN allowed_cidrs`);
  }
}
