import { Extensions, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DurationScalar } from '../platform/duration';
import { DateTimeScalar } from '../platform/graphql-types';
import { Token } from '../tokens/token.types';

/** Most actions a rotation plan or a policy's impact lists. */
export const MAX_PLANNED_ACTIONS = 1_000;
/** Most failed jobs the operations view lists. */
export const FAILED_JOBS_SHOWN = 100;

export enum PlannedActionKind {
  ROTATE = 'ROTATE',
  EXPIRE = 'EXPIRE',
  NOTIFY = 'NOTIFY',
  RETIRE = 'RETIRE',
}
registerEnumType(PlannedActionKind, {
  name: 'PlannedActionKind',
  valuesConfig: {
    ROTATE: { description: 'A scheduled rotation; the successor waits, sealed, for pickup.' },
    EXPIRE: { description: 'The token expires.' },
    NOTIFY: { description: 'A TOKEN_EXPIRING warning.' },
    RETIRE: { description: 'A PREVIOUS secret reaches the end of its grace period.' },
  },
});

@ObjectType({ description: 'Something the workers will do to a token.' })
export class PlannedAction {
  @Field(() => DateTimeScalar, { description: 'When it is due; in the past when it is overdue.' })
  at!: Date;

  @Field(() => PlannedActionKind)
  kind!: PlannedActionKind;

  @Field(() => ID)
  tokenId!: string;

  @Field(() => Token)
  token!: Token;

  @Field(() => Int, {
    nullable: true,
    description: 'ROTATE: the generation it creates; RETIRE: the generation it retires.',
  })
  generation!: number | null;

  @Field(() => DurationScalar, { nullable: true, description: 'NOTIFY: how long before expiry.' })
  notifyBefore!: number | null;
}

@ObjectType()
export class RotationPlan {
  @Field(() => DurationScalar)
  within!: number;

  @Field(() => [PlannedAction], { description: 'In the order they will happen.' })
  @Extensions({ maxItems: MAX_PLANNED_ACTIONS })
  actions!: PlannedAction[];

  @Field({ description: 'True when more actions fall in the window than `first` allowed.' })
  truncated!: boolean;
}

@ObjectType({ description: 'How a policy change moves what the workers will do.' })
export class RotationPlanDiff {
  @Field(() => DurationScalar)
  within!: number;

  @Field(() => Int, { description: 'Live tokens under the policy.' })
  tokens!: number;

  @Field(() => Int, { description: 'Tokens whose schedule changes.' })
  affectedTokens!: number;

  @Field(() => Int)
  addedCount!: number;

  @Field(() => Int)
  removedCount!: number;

  @Field({
    description:
      'True when the change was too large to expand whole (over two million actions): the counts are lower bounds.',
  })
  truncated!: boolean;

  @Field(() => [PlannedAction], { description: 'The first added actions, in order.' })
  @Extensions({ maxItems: MAX_PLANNED_ACTIONS })
  added!: PlannedAction[];

  @Field(() => [PlannedAction], { description: 'The first removed actions, in order.' })
  @Extensions({ maxItems: MAX_PLANNED_ACTIONS })
  removed!: PlannedAction[];
}

@ObjectType()
export class QueueStats {
  @Field()
  name!: string;

  @Field(() => Int)
  waiting!: number;

  @Field(() => Int)
  delayed!: number;

  @Field(() => Int)
  active!: number;

  @Field(() => Int)
  failed!: number;

  @Field(() => Int)
  completed!: number;
}

@ObjectType()
export class FailedJob {
  @Field()
  queue!: string;

  @Field()
  jobId!: string;

  @Field(() => ID, { nullable: true })
  tokenId!: string | null;

  @Field(() => Int)
  attempts!: number;

  @Field()
  reason!: string;

  @Field(() => DateTimeScalar, { nullable: true })
  failedAt!: Date | null;
}

@ObjectType({ description: 'The health of the scheduled lifecycle.' })
export class LifecycleOperations {
  @Field(() => [QueueStats], { description: 'Cluster-wide: the queues are shared by every tenant.' })
  @Extensions({ maxItems: 20 })
  queues!: QueueStats[];

  @Field(() => DurationScalar, {
    description: 'How late the oldest due action of this tenant is (zero when nothing is overdue).',
  })
  plannerLag!: number;

  @Field(() => DateTimeScalar, { nullable: true, description: 'The due time of that action.' })
  oldestDueAt!: Date | null;

  @Field(() => Int, { description: "This tenant's actions that are due and not yet done." })
  overdue!: number;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When the planner last finished a tick.' })
  lastTickAt!: Date | null;

  @Field(() => [FailedJob], { description: "This tenant's jobs that used all their attempts (newest first)." })
  @Extensions({ maxItems: FAILED_JOBS_SHOWN })
  failedJobs!: FailedJob[];
}
