import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

// Row and API type share a class: they are the same shape.
@ObjectType()
@Entity('tenants')
export class Tenant {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id!: string;

  @Field()
  @Column('text')
  name!: string;

  @Field()
  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;
}
