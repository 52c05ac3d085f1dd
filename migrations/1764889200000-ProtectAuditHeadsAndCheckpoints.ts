import type { MigrationInterface, QueryRunner } from 'typeorm';

// The audit chain's head and its signed checkpoints get the protection the events have, and every
// guard fires even with session_replication_role = replica (ENABLE ALWAYS), which otherwise skips
// triggers. A superuser can still drop a trigger: the signed checkpoints, checked online and
// offline against a trusted head, are what detects that.
// - audit_checkpoints: append-only.
// - audit_heads: never deleted; moved only forward, onto an event that exists with that hash.
// - audit_relay: what was published (and so which checkpoints are owed) never goes back.
export class ProtectAuditHeadsAndCheckpoints1764889200000 implements MigrationInterface {
  name = 'ProtectAuditHeadsAndCheckpoints1764889200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`);
    await q.query(`
      CREATE FUNCTION audit_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'UPDATE' THEN
          RAISE EXCEPTION 'audit_heads: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.tenant_id <> OLD.tenant_id OR NEW.seq < OLD.seq
           OR NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.tenant_id = NEW.tenant_id AND e.seq = NEW.seq AND e.hash = NEW.hash) THEN
          RAISE EXCEPTION 'audit_heads moves only forward, onto an existing event' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_heads_forward BEFORE UPDATE OR DELETE ON audit_heads
      FOR EACH ROW EXECUTE FUNCTION audit_heads_forward_only()`);
    await q.query(`
      CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
      FOR EACH STATEMENT EXECUTE FUNCTION audit_heads_forward_only()`);
    await q.query(`
      CREATE FUNCTION audit_relay_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'UPDATE' OR NEW.tenant_id <> OLD.tenant_id OR NEW.published_seq < OLD.published_seq THEN
          RAISE EXCEPTION 'audit_relay moves only forward: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_relay_forward BEFORE UPDATE OR DELETE ON audit_relay
      FOR EACH ROW EXECUTE FUNCTION audit_relay_forward_only()`);
    for (const [table, trigger] of [
      ['audit_relay', 'audit_relay_forward'],
      ['audit_events', 'audit_events_no_update_delete'],
      ['audit_events', 'audit_events_no_truncate'],
      ['audit_checkpoints', 'audit_checkpoints_no_update_delete'],
      ['audit_checkpoints', 'audit_checkpoints_no_truncate'],
      ['audit_heads', 'audit_heads_forward'],
      ['audit_heads', 'audit_heads_no_truncate'],
    ]) {
      await q.query(`ALTER TABLE ${table} ENABLE ALWAYS TRIGGER ${trigger}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete`);
    await q.query(`ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_truncate`);
    await q.query(`DROP TRIGGER audit_relay_forward ON audit_relay`);
    await q.query(`DROP FUNCTION audit_relay_forward_only()`);
    await q.query(`DROP TRIGGER audit_heads_no_truncate ON audit_heads`);
    await q.query(`DROP TRIGGER audit_heads_forward ON audit_heads`);
    await q.query(`DROP FUNCTION audit_heads_forward_only()`);
    await q.query(`DROP TRIGGER audit_checkpoints_no_truncate ON audit_checkpoints`);
    await q.query(`DROP TRIGGER audit_checkpoints_no_update_delete ON audit_checkpoints`);
  }
}
