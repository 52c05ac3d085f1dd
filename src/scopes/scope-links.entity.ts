// What holds a scope: an owner's ceiling (the scopes its tokens may carry) and a token's own
// scopes. The scope catalogue's links, kept here so that owners and tokens stand on scopes, not
// the other way round.
import { Entity, PrimaryColumn } from 'typeorm';

/** An owner's scope ceiling: the scopes its tokens may carry. */
@Entity('owner_scopes')
export class OwnerScopeRow {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @PrimaryColumn('uuid', { name: 'owner_id' })
  ownerId!: string;

  @PrimaryColumn('uuid', { name: 'scope_id' })
  scopeId!: string;
}

/** The scopes a token carries. */
@Entity('token_scopes')
export class TokenScopeRow {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @PrimaryColumn('uuid', { name: 'token_id' })
  tokenId!: string;

  @PrimaryColumn('uuid', { name: 'scope_id' })
  scopeId!: string;
}
