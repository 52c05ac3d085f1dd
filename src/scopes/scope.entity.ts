import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

export enum ScopeAccess {
  READ = 'READ',
  WRITE = 'WRITE',
}
registerEnumType(ScopeAccess, { name: 'ScopeAccess' });

// Row and API type share a class: the catalogue entry is the same shape in both.
@ObjectType()
@Entity('scopes')
export class Scope {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Field({ description: '<service>:<resource>:<read|write>, for example crm:sales.summary:read' })
  @Column('text')
  name!: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  description!: string | null;

  @Field(() => ScopeAccess)
  @Column('text')
  access!: ScopeAccess;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;
}
