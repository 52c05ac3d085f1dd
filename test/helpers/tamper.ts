// What a database superuser can still do to the audit log: switch its guards off (in one
// transaction, so that other sessions never see them off), change rows, and switch them back on.
import type { TestApi } from './api';

const GUARDS: Array<[string, string]> = [
  ['audit_events', 'audit_events_no_update_delete'],
  ['audit_checkpoints', 'audit_checkpoints_no_update_delete'],
  ['audit_heads', 'audit_heads_forward'],
  ['audit_relay', 'audit_relay_forward'],
];

export async function asSuperuserWithoutGuards(
  api: TestApi,
  change: (q: (sql: string, params?: unknown[]) => Promise<any>) => Promise<void>,
): Promise<void> {
  await api.container.ds.transaction(async (tx) => {
    // All at once, the chain head first, as every append locks it: other test files append to these
    // tables meanwhile, and taking them in another order could deadlock with them.
    await tx.query(`LOCK TABLE audit_heads, audit_events, audit_checkpoints, audit_relay IN ACCESS EXCLUSIVE MODE`);
    for (const [table, trigger] of GUARDS) await tx.query(`ALTER TABLE ${table} DISABLE TRIGGER ${trigger}`);
    await change((sql, params) => tx.query(sql, params));
    for (const [table, trigger] of GUARDS) await tx.query(`ALTER TABLE ${table} ENABLE ALWAYS TRIGGER ${trigger}`);
  });
}
