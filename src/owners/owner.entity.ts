import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

export enum OwnerKind {
  USER = 'USER',
  TEAM = 'TEAM',
  SERVICE = 'SERVICE',
}
registerEnumType(OwnerKind, { name: 'OwnerKind' });

// Row and API type share a class; roles and allowedScopes are resolved per field.
@ObjectType()
@Entity('owners')
export class Owner {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Field(() => OwnerKind)
  @Column('text')
  kind!: OwnerKind;

  @Field()
  @Column('text')
  name!: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  email!: string | null;

  @Field()
  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;
}
