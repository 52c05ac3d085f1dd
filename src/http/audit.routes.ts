// The audit log for SIEMs: GET /v1/audit/export streams NDJSON with every chain field, the signed
// checkpoints in range, and a head signed at export time; GET /v1/audit/keys serves the public key.
import { Router } from 'express';
import type { ClientAddresses } from '../platform/http';
import type { DataSource } from 'typeorm';
import { Permission } from '../iam/permissions';
import { requirePermission } from '../iam/principal';
import { badInput } from '../platform/errors';
import { TenantScope } from '../platform/tenant-scope';
import type { Verifier } from '../verify/verifier';
import { AuditEvent } from '../audit/audit-event.entity';
import type { AuditService } from '../audit/audit.service';
import type { AuditSigner } from '../audit/checkpoints';

const BATCH = 1_000;
const MAX_LIMIT = 1_000_000;

function intParam(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n > max)
    throw badInput(`${name} must be a whole number up to ${max}`);
  return n;
}

export function auditRoutes(
  ds: DataSource,
  verifier: Verifier,
  audit: AuditService,
  signer: AuditSigner,
  addresses: ClientAddresses,
): Router {
  const router = Router();

  router.get('/v1/audit/keys', (_req, res) => {
    res.json({ keys: signer.publicKeys() });
  });

  router.get('/v1/audit/export', async (req, res) => {
    const principal = await verifier.authenticate(req.header('authorization'), addresses.of(req));
    requirePermission(principal, Permission.AUDIT_READ);
    const afterSeq = intParam(req.query.afterSeq, 'afterSeq', 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(req.query.limit, 'limit', 100_000, MAX_LIMIT);
    const { tenantId } = principal;
    res.setHeader('content-type', 'application/x-ndjson');
    res.setHeader('cache-control', 'no-store');
    const write = (line: unknown) => res.write(`${JSON.stringify(line)}\n`);
    write({
      type: 'export',
      tenantId,
      afterSeq,
      exportedAt: new Date().toISOString(),
      ...signer.publicKeys()[0],
      keys: signer.publicKeys(),
    });
    const scope = new TenantScope(ds.manager, tenantId);
    let last = { seq: afterSeq, hash: null as string | null };
    let count = 0;
    while (count < limit) {
      const events = await scope
        .select(AuditEvent, 'e')
        .andWhere('e.seq > :after', { after: last.seq })
        .orderBy('e.seq', 'ASC')
        .limit(Math.min(BATCH, limit - count))
        .getMany();
      if (events.length === 0) break;
      const checkpoints: Array<{ seq: string; hash: string; key_id: string; signature: string; signed_at: Date }> =
        await ds.query(
          `SELECT seq, hash, key_id, signature, signed_at FROM audit_checkpoints WHERE tenant_id = $1 AND seq BETWEEN $2 AND $3`,
          [tenantId, events[0]!.seq, events.at(-1)!.seq],
        );
      const bySeq = new Map(checkpoints.map((c) => [Number(c.seq), c]));
      for (const e of events) {
        write({
          type: 'event',
          id: e.id,
          tenantId,
          seq: e.seq,
          at: e.at.toISOString(),
          action: e.action,
          actorId: e.actorId,
          targetType: e.targetType,
          targetId: e.targetId,
          data: e.data,
          prevHash: e.prevHash,
          hash: e.hash,
        });
        const c = bySeq.get(e.seq);
        if (c)
          write({
            type: 'checkpoint',
            seq: e.seq,
            hash: c.hash,
            keyId: c.key_id,
            signature: c.signature,
            signedAt: c.signed_at.toISOString(),
          });
      }
      count += events.length;
      last = { seq: events.at(-1)!.seq, hash: events.at(-1)!.hash };
      if (res.writableNeedDrain) await new Promise((r) => res.once('drain', r));
    }
    // The head, signed now: dropping lines from the end can no longer go unnoticed.
    write({
      type: 'head',
      seq: last.seq,
      hash: last.hash,
      keyId: signer.keyId,
      signature: signer.sign({ tenantId, seq: last.seq, hash: last.hash ?? '' }),
      signedAt: new Date().toISOString(),
    });
    res.end();
    await ds.transaction((tx) =>
      audit.append(tx, tenantId, {
        action: 'AUDIT_EXPORTED',
        actorId: principal.ownerId,
        targetType: 'TENANT',
        targetId: tenantId,
        data: { afterSeq, events: count, lastSeq: last.seq },
      }),
    );
  });

  return router;
}
