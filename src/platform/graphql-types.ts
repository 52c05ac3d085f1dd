// GraphQL building blocks shared by every domain: scalars and Relay connections.
import { DateTimeResolver, JSONObjectResolver, SafeIntResolver } from 'graphql-scalars';
import { Field, Int, ObjectType, type ClassType } from 'type-graphql';

export const DateTimeScalar = DateTimeResolver;
export const JSONObjectScalar = JSONObjectResolver;
export const SafeIntScalar = SafeIntResolver;

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

/** `<Name>Connection` and `<Name>Edge` types for a node type. */
export function ConnectionType<T extends object>(Node: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field()
    cursor!: string;

    @Field(() => Node)
    node!: T;
  }

  @ObjectType(`${name}Connection`)
  class Connection {
    @Field(() => [Edge])
    edges!: Edge[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    @Field(() => Int)
    totalCount!: number;
  }
  return Connection;
}
