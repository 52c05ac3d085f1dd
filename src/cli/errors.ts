// Exit codes of the latchkey command line, documented in the README: scripts can tell a typo
// from a wrong token from a missing object from a broken server.
export enum ExitCode {
  OK = 0,
  /** A server error, or anything unexpected. `plan` and `apply` exit 1 on every error. */
  SERVER = 1,
  /** `plan` only: the server differs from the file. */
  CHANGES = 2,
  USAGE = 3,
  AUTH = 4,
  FORBIDDEN = 5,
  NOT_FOUND = 6,
  /** The server refused the input (BAD_USER_INPUT, CONFLICT), or a policy file is invalid. */
  INVALID = 7,
  UNAVAILABLE = 8,
}

export class CliError extends Error {
  constructor(
    message: string,
    /** One of ExitCode, or what a shell answers for a command `latchkey run` cannot start (126, 127). */
    readonly exitCode: ExitCode | number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usage = (message: string) => new CliError(message, ExitCode.USAGE);
