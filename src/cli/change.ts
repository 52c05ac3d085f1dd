// The shapes policy-as-code passes between its parts: a change as plan shows it and apply runs it,
// what apply learns as it goes, and the server indexed by name. Types only, so that file-diff.ts
// and the per-kind diffs it calls can share them without importing each other.
import type { LatchkeyClient } from './client';
import type { FieldChange } from './diff-values';
import type { OwnerFieldsFragment, PolicyFieldsFragment } from './generated/graphql';
import type { Role, Scope } from './server-state';

export type Op = 'create' | 'update' | 'delete' | 'replace';
export type Kind = 'scope' | 'policy' | 'role' | 'owner' | 'token' | 'webhook' | 'credential';

export interface Impact {
  within: string;
  tokens: number;
  affectedTokens: number;
  addedCount: number;
  removedCount: number;
}

export interface Change {
  op: Op;
  kind: Kind;
  name: string;
  fields: FieldChange[];
  /** Applying it prints a secret once (a token issued, a webhook's or webhook rotator's signing secret). */
  issuesSecret?: boolean;
  /** Policies only: how the change moves scheduled rotations, expiries and warnings. */
  impact?: Impact;
  /** Applies the change; returns a new token's secret when it issued one. */
  run(state: ApplyState): Promise<{ secret?: string; tokenId?: string; webhookId?: string; impact?: Impact }>;
}

/** What apply learns as it goes: ids of what it created, by name. */
export interface ApplyState {
  client: LatchkeyClient;
  roleIds: Map<string, string>;
  policyIds: Map<string, string>;
  ownerIds: Map<string, string>;
  /** Seconds a replaced token keeps working after its successor is issued; 0 revokes it at once. */
  overlapS: number;
}

/** What the server holds, by the names the file uses. */
export interface ServerIndex {
  scopes: Map<string, Scope>;
  policies: Map<string, PolicyFieldsFragment>;
  roles: Map<string, Role>;
  owners: Map<string, OwnerFieldsFragment>;
}
