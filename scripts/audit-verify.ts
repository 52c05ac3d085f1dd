// npm run audit:verify -- FILE [--key BASE64_PUBLIC_KEY ...] [--after EARLIER_EXPORT | --trusted-head SEQ:HASH]
// Checks an audit export offline: the hash chain line by line, the signed checkpoints, and the
// signed head at the end (which shows a truncated tail). With an earlier export (or a seq and hash
// kept from one), also that this export extends it: a chain rewritten or cut back since fails even
// if whoever did it re-signed nothing. Names the first broken line.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkExport, keyRing, type TrustedHead } from '../src/audit/export-check';

const USAGE =
  'usage: npm run audit:verify -- FILE [--key BASE64_ED25519_PUBLIC_KEY ...] [--after EARLIER_EXPORT | --trusted-head SEQ:HASH]\n' +
  '  --key: a key from GET /v1/audit/keys (repeat for retired keys); --after: an export you verified before';

class UsageError extends Error {}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function main(): number {
  let file: string;
  let keys: Buffer[] = [];
  let trusted: TrustedHead | undefined;
  try {
    const { values, positionals } = parseArgs({
      options: {
        key: { type: 'string', multiple: true },
        after: { type: 'string' },
        'trusted-head': { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one export file');
    file = positionals[0]!;
    keys = (values.key ?? []).map((k) => {
      const raw = Buffer.from(k, 'base64');
      // An Ed25519 public key is 32 bytes; anything else is a mistyped or truncated key.
      if (raw.length !== 32 || raw.toString('base64') !== k.trim())
        throw new UsageError('--key must be a base64 Ed25519 public key (32 bytes), as GET /v1/audit/keys gives it');
      return raw;
    });
    if (values.after !== undefined && values['trusted-head'] !== undefined)
      throw new UsageError('give --after or --trusted-head, not both');
    if (values['trusted-head'] !== undefined) {
      const m = /^(\d+):([0-9a-f]{64})$/.exec(values['trusted-head']);
      if (!m) throw new UsageError('--trusted-head must be SEQ:HASH, the seq and 64-hex hash of a head you trust');
      trusted = { seq: Number(m[1]), hash: m[2]! };
    }
    if (values.after !== undefined) {
      const earlier = checkExport(read(values.after), keys.length ? keyRing(keys) : undefined);
      if (!earlier.ok || !earlier.head)
        throw new UsageError(`${values.after}: not a valid export to trust (${earlier.problem ?? 'it has no head'})`);
      trusted = earlier.head;
    }
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') ? 64 : 1;
  }
  let text: string;
  try {
    text = read(file);
  } catch (err) {
    console.error((err as Error).message);
    return 66;
  }
  const report = checkExport(text, keys.length ? keyRing(keys) : undefined, trusted);
  if (!report.ok) {
    console.error(`${file}: BROKEN at line ${report.brokenLine}: ${report.problem}`);
    return 1;
  }
  console.log(
    `${file}: OK — ${report.events} events (seq ${report.firstSeq ?? '-'}..${report.lastSeq ?? '-'}), ${report.checkpoints} signed checkpoints, signed head verified with key ${report.keyId}` +
      (trusted ? `, extends the trusted head at seq ${trusted.seq}` : ''),
  );
  if (report.head)
    console.log(`head: ${report.head.seq}:${report.head.hash}   (keep it: --trusted-head for the next check)`);
  if (report.selfKeyed)
    console.log(
      'note: checked against the keys inside the file; pass --key with the keys from /v1/audit/keys to trust them',
    );
  return 0;
}

process.exit(main());
