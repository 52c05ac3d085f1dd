import { ArrayMaxSize, IsOptional } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ConnectionType } from '../platform/graphql-types';
import { AuditEvent } from './audit-event.entity';

export const AuditEventConnection = ConnectionType(AuditEvent, 'AuditEvent');

@ObjectType()
export class AuditChainReport {
  @Field()
  valid!: boolean;

  @Field(() => Int)
  checked!: number;

  @Field(() => Int, { nullable: true })
  firstBrokenSeq!: number | null;

  @Field(() => Int, { description: 'Signed checkpoints whose signature and chain hash were checked.' })
  checkpoints!: number;

  @Field(() => String, { nullable: true, description: 'What is wrong, when valid is false.' })
  problem!: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'When valid: the seq of the latest signed checkpoint (0 when there is none yet).',
  })
  signedThrough!: number | null;

  @Field(() => Int, {
    nullable: true,
    description:
      'When valid: events after the latest signed checkpoint. A database superuser could cut them (winding back the head and the relay) without a trace in the database: compare with an export or a head kept elsewhere (audit:verify --trusted-head).',
  })
  unsignedTail!: number | null;
}

@InputType()
export class AuditFilter {
  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(50)
  actions?: string[] | null;

  @Field(() => ID, { nullable: true })
  targetId?: string | null;
}
