// npm run audit:verify -- FILE [--key BASE64_PUBLIC_KEY]
// Checks an audit export offline: the hash chain line by line, the signed checkpoints, and the
// signed head at the end (which shows a truncated tail). Names the first broken line.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkExport } from '../src/audit/export-check';

const USAGE = 'usage: npm run audit:verify -- FILE [--key BASE64_ED25519_PUBLIC_KEY]   (the key from GET /v1/audit/keys)';

function main(): number {
  let file: string | undefined;
  let key: Buffer | undefined;
  try {
    const { values, positionals } = parseArgs({ options: { key: { type: 'string' } }, allowPositionals: true, strict: true });
    if (positionals.length !== 1) throw new Error('give exactly one export file');
    file = positionals[0];
    if (values.key !== undefined) {
      key = Buffer.from(values.key, 'base64');
      // An Ed25519 public key is 32 bytes; anything else is a mistyped or truncated key.
      if (key.length !== 32 || key.toString('base64') !== values.key.trim()) throw new Error('--key must be a base64 Ed25519 public key (32 bytes), as GET /v1/audit/keys gives it');
    }
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 64;
  }
  let text: string;
  try {
    text = readFileSync(file!, 'utf8');
  } catch (err) {
    console.error(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return 66;
  }
  const report = checkExport(text, key);
  if (!report.ok) {
    console.error(`${file}: BROKEN at line ${report.brokenLine}: ${report.problem}`);
    return 1;
  }
  console.log(
    `${file}: OK — ${report.events} events (seq ${report.firstSeq ?? '-'}..${report.lastSeq ?? '-'}), ${report.checkpoints} signed checkpoints, signed head verified with key ${report.keyId}`,
  );
  if (report.selfKeyed) console.log('note: checked against the key inside the file; pass --key with the key from /v1/audit/keys to trust it');
  return 0;
}

process.exit(main());
