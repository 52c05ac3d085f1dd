// The GraphQL Duration scalar. Parsing and formatting live in iso-duration.ts, which loads no
// GraphQL, so that the command line can use them.
import { GraphQLScalarType, Kind } from 'graphql';
import { DurationError, formatDuration, parseDuration } from './iso-duration';

/** A GraphQL Duration value: seconds in resolvers, ISO-8601 on the wire. */
export const DurationScalar = new GraphQLScalarType<number, string>({
  name: 'Duration',
  description: 'ISO-8601 duration such as P30D, PT12H or P1DT6H; seconds are the smallest unit.',
  serialize(value) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new TypeError('Duration must serialise from a non-negative whole number of seconds');
    }
    return formatDuration(value);
  },
  parseValue(value) {
    if (typeof value !== 'string') throw new DurationError('Duration must be a string such as P30D');
    return parseDuration(value);
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new DurationError('Duration must be a string such as P30D');
    return parseDuration(ast.value);
  },
});
