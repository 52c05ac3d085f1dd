// The files the command line reads and writes on the user's machine: policy files and saved
// plans are read up to a limit (a file is not a way to make it spend minutes and gigabytes), and
// saved plans and secrets files end up readable by their owner only, whatever was there before.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { CliError, ExitCode } from './errors';

const MB = 1024 * 1024;

const cannot = (path: string, verb: string, err: unknown) =>
  new CliError(
    `${path}: cannot ${verb}: ${(err as NodeJS.ErrnoException).code === 'ELOOP' ? 'it is a symbolic link; name the file itself' : (err as Error).message}`,
    ExitCode.USAGE,
  );

/** The file's text, refused past `limitMb` megabytes without reading further (a device or FIFO included). */
export function readLimited(path: string, limitMb: number, what: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw cannot(path, 'read', err);
  }
  try {
    const limit = limitMb * MB;
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    for (let r; n <= limit && (r = readSync(fd, buf, n, limit + 1 - n, null)) > 0;) n += r;
    if (n > limit) throw new CliError(`${path}: larger than ${limitMb} MB, the limit for ${what}`, ExitCode.INVALID);
    return buf.subarray(0, n).toString('utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw cannot(path, 'read', err);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` with a new file holding `text`, mode 0600: an existing file's mode does not carry over. */
export function writePrivate(path: string, text: string): void {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw cannot(path, 'write', err);
  }
}

/**
 * A descriptor appending to `path`, created 0600. An existing file must be a regular file of the
 * user's (not a link): one others could read is made 0600 before anything is written, and `tightened`
 * says so.
 */
export function openPrivateAppend(path: string): { fd: number; tightened: string | null } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw cannot(path, 'write', err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CliError(`${path}: not a regular file`, ExitCode.USAGE);
    if (process.getuid && st.uid !== process.getuid())
      throw new CliError(
        `${path}: belongs to someone else, who could read the secrets: name a file of your own`,
        ExitCode.USAGE,
      );
    const mode = st.mode & 0o777;
    if ((mode & 0o077) === 0) return { fd, tightened: null };
    fchmodSync(fd, 0o600);
    return {
      fd,
      tightened: `${path} was mode ${mode.toString(8).padStart(4, '0')}; it is 0600 now, before any secret was written to it`,
    };
  } catch (err) {
    closeSync(fd);
    if (err instanceof CliError) throw err;
    throw cannot(path, 'write', err);
  }
}
