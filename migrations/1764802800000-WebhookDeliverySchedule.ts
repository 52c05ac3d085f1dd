import type { MigrationInterface, QueryRunner } from 'typeorm';

// Postgres keeps when a pending delivery's next attempt is due and which job carries it, so that
// deliveries in backoff survive losing Redis: a sweep puts back, under the same job id, those
// whose attempt is overdue.
export class WebhookDeliverySchedule1764802800000 implements MigrationInterface {
  name = 'WebhookDeliverySchedule1764802800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_deliveries ADD COLUMN next_attempt_at timestamptz, ADD COLUMN job_id text`);
    await q.query(
      `UPDATE webhook_deliveries SET next_attempt_at = coalesce(last_attempt_at, created_at), job_id = id::text WHERE status = 'PENDING'`,
    );
    await q.query(
      `CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX webhook_deliveries_due_idx`);
    await q.query(`ALTER TABLE webhook_deliveries DROP COLUMN job_id, DROP COLUMN next_attempt_at`);
  }
}
