// Every action the audit log records: one list, so that a misspelt action fails to compile and a
// webhook can only subscribe to actions that exist.
export const AUDIT_ACTIONS = [
  'TENANT_CREATED',
  'OWNER_CREATED',
  'OWNER_UPDATED',
  'ROLE_CREATED',
  'ROLE_UPDATED',
  'ROLE_DELETED',
  'ROLE_ASSIGNED',
  'ROLE_UNASSIGNED',
  'SCOPE_CREATED',
  'SCOPE_UPDATED',
  'SCOPE_DELETED',
  'POLICY_CREATED',
  'POLICY_UPDATED',
  'POLICY_DELETED',
  'TOKEN_ISSUED',
  'TOKEN_UPDATED',
  'TOKEN_POLICY_SET',
  'TOKEN_ROTATED',
  'TOKEN_SUSPENDED',
  'TOKEN_RESUMED',
  'TOKEN_REVOKED',
  'TOKEN_EXPIRING',
  'TOKEN_EXPIRED',
  'TOKEN_SECRET_RETIRED',
  'TOKEN_SUCCESSOR_PICKED_UP',
  'TOKEN_SUCCESSOR_REFUSED',
  'TOKEN_REUSE_DETECTED',
  'TOKEN_ADDRESS_REJECTED',
  'WEBHOOK_CREATED',
  'WEBHOOK_UPDATED',
  'WEBHOOK_DELETED',
  'WEBHOOK_DISABLED',
  'WEBHOOK_SECRET_ROTATED',
  'WEBHOOK_TESTED',
  'AUDIT_EXPORTED',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

const KNOWN = new Set<string>(AUDIT_ACTIONS);

export const isAuditAction = (name: string): name is AuditAction => KNOWN.has(name);
