// The error formatter: whatever a resolver threw becomes one of the contract's codes, and the
// formatter itself never fails.
import { GraphQLError } from 'graphql';
import pino from 'pino';
import { ArgumentValidationError } from 'type-graphql';
import { describe, expect, it } from 'vitest';
import { formatError } from '../../src/platform/graphql-errors';

const log = pino({ level: 'silent' });

describe('formatError', () => {
  it('answers BAD_USER_INPUT, not an internal error, when class-validator threw instead of listing problems', () => {
    const thrown = new ArgumentValidationError(new TypeError('cannot read constructor') as never);
    const error = new GraphQLError('Argument Validation Error', { originalError: thrown });
    expect(formatError(error.toJSON(), error, log)).toMatchObject({
      message: 'invalid input',
      extensions: { code: 'BAD_USER_INPUT', fields: [] },
    });
  });

  it('names the fields and problems class-validator listed', () => {
    const thrown = new ArgumentValidationError([
      { property: 'name', constraints: { maxLength: 'name is too long' }, children: [] },
    ]);
    const error = new GraphQLError('Argument Validation Error', { originalError: thrown });
    expect(formatError(error.toJSON(), error, log)).toMatchObject({
      message: 'invalid input: name is too long',
      extensions: { code: 'BAD_USER_INPUT', fields: [{ field: 'name', problems: ['name is too long'] }] },
    });
  });
});
