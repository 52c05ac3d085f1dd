// What a principal may do in Latchkey itself, and the built-in roles that bundle permissions.
import { registerEnumType } from 'type-graphql';

export enum Permission {
  PLATFORM_ADMIN = 'PLATFORM_ADMIN',
  TENANT_ADMIN = 'TENANT_ADMIN',
  OWNER_READ = 'OWNER_READ',
  OWNER_WRITE = 'OWNER_WRITE',
  ROLE_READ = 'ROLE_READ',
  ROLE_WRITE = 'ROLE_WRITE',
  SCOPE_READ = 'SCOPE_READ',
  SCOPE_WRITE = 'SCOPE_WRITE',
  TOKEN_READ = 'TOKEN_READ',
  TOKEN_CREATE = 'TOKEN_CREATE',
  TOKEN_ROTATE = 'TOKEN_ROTATE',
  TOKEN_REVOKE = 'TOKEN_REVOKE',
  TOKEN_VERIFY = 'TOKEN_VERIFY',
  TOKEN_ALL_OWNERS = 'TOKEN_ALL_OWNERS',
  POLICY_READ = 'POLICY_READ',
  POLICY_WRITE = 'POLICY_WRITE',
  AUDIT_READ = 'AUDIT_READ',
  WEBHOOK_READ = 'WEBHOOK_READ',
  WEBHOOK_WRITE = 'WEBHOOK_WRITE',
  CREDENTIAL_READ = 'CREDENTIAL_READ',
  CREDENTIAL_WRITE = 'CREDENTIAL_WRITE',
  CREDENTIAL_ADMIN = 'CREDENTIAL_ADMIN',
}

registerEnumType(Permission, {
  name: 'Permission',
  description: 'What a principal may do in the control plane itself (not on the APIs its tokens reach).',
  valuesConfig: {
    PLATFORM_ADMIN: { description: 'Create tenants; held only by the bootstrap admin of the first tenant.' },
    TENANT_ADMIN: {
      description: 'Administer the tenant: holds every scope of the catalogue and sees the operations view.',
    },
    WEBHOOK_READ: { description: 'Read webhook endpoints and their deliveries (never their signing secrets).' },
    WEBHOOK_WRITE: { description: 'Manage webhook endpoints, which receive audit events outside Latchkey.' },
    CREDENTIAL_READ: { description: "Read managed credentials' metadata, versions and history; never their values." },
    CREDENTIAL_WRITE: {
      description:
        'Create managed credentials, add versions and grant other owners the right to read values. Reading a value always takes a grant; writing never implies reading.',
    },
    CREDENTIAL_ADMIN: {
      description:
        'Grant oneself on a credential, and set the rotator of a credential one cannot read (where a value could be sent). Held by the built-in admin only.',
    },
    TOKEN_ALL_OWNERS: {
      description:
        "Extends the TOKEN_* permissions to every owner's tokens in the tenant; without it they cover the principal's own tokens only.",
    },
  },
});

export const ALL_PERMISSIONS = Object.values(Permission);

/** Everything a tenant's administrator holds: some owner must always hold all of it. */
export const TENANT_ADMINISTRATION: readonly Permission[] = ALL_PERMISSIONS.filter(
  (p) => p !== Permission.PLATFORM_ADMIN,
);

export const BuiltInRole = {
  ADMIN: 'admin',
  OPERATOR: 'operator',
  AUDITOR: 'auditor',
  DEVELOPER: 'developer',
  GATEWAY: 'gateway',
  PLATFORM_ADMIN: 'platform-admin',
} as const;

const P = Permission;

/** Roles created in every tenant. platform-admin exists only in the first tenant. */
export const BUILT_IN_ROLES: ReadonlyArray<{ name: string; description: string; permissions: Permission[] }> = [
  {
    name: BuiltInRole.ADMIN,
    description: 'Everything within the tenant.',
    permissions: [...TENANT_ADMINISTRATION],
  },
  {
    name: BuiltInRole.OPERATOR,
    description: 'Manages every token and the rotation policies.',
    permissions: [
      P.OWNER_READ,
      P.SCOPE_READ,
      P.ROLE_READ,
      P.TOKEN_READ,
      P.TOKEN_CREATE,
      P.TOKEN_ROTATE,
      P.TOKEN_REVOKE,
      P.TOKEN_VERIFY,
      P.TOKEN_ALL_OWNERS,
      P.POLICY_READ,
      P.POLICY_WRITE,
    ],
  },
  {
    name: BuiltInRole.AUDITOR,
    description: 'Reads everything, including the audit log; changes nothing.',
    permissions: [
      P.OWNER_READ,
      P.ROLE_READ,
      P.SCOPE_READ,
      P.TOKEN_READ,
      P.TOKEN_ALL_OWNERS,
      P.POLICY_READ,
      P.AUDIT_READ,
      P.CREDENTIAL_READ,
      P.WEBHOOK_READ,
    ],
  },
  {
    name: BuiltInRole.DEVELOPER,
    description: 'Self-service: manages its own tokens within its own scope ceiling.',
    permissions: [P.SCOPE_READ, P.POLICY_READ, P.TOKEN_READ, P.TOKEN_CREATE, P.TOKEN_ROTATE, P.TOKEN_REVOKE],
  },
  {
    name: BuiltInRole.GATEWAY,
    description: 'Verifies tokens; nothing else.',
    permissions: [P.TOKEN_VERIFY],
  },
];

export const PLATFORM_ADMIN_ROLE = {
  name: BuiltInRole.PLATFORM_ADMIN,
  description: 'Creates tenants. Held only by the bootstrap admin of the first tenant.',
  permissions: [P.PLATFORM_ADMIN],
};
