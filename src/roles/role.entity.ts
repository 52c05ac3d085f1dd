import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { Permission } from '../iam/permissions';

// Row and API type share a class: a role is the same shape in both.
@ObjectType()
@Entity('roles')
export class Role {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Field()
  @Column('text')
  name!: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  description!: string | null;

  @Field(() => [Permission])
  @Column('text', { array: true })
  permissions!: Permission[];

  @Field()
  @Column('boolean', { name: 'built_in' })
  builtIn!: boolean;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;
}

@Entity('role_bindings')
export class RoleBindingRow {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @PrimaryColumn('uuid', { name: 'owner_id' })
  ownerId!: string;

  @PrimaryColumn('uuid', { name: 'role_id' })
  roleId!: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;
}
