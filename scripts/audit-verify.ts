// npm run audit:verify -- FILE [--key BASE64_PUBLIC_KEY]
// Checks an audit export offline: the hash chain line by line, the signed checkpoints, and the
// signed head at the end (which shows a truncated tail). Names the first broken line.
import { readFileSync } from 'node:fs';
import { checkExport } from '../src/audit/export-check';

function main(): number {
  const args = process.argv.slice(2);
  const keyAt = args.indexOf('--key');
  const key = keyAt >= 0 ? args[keyAt + 1] : undefined;
  const file = args.find((a, i) => !a.startsWith('--') && i !== keyAt + 1);
  if (!file) {
    console.error('usage: npm run audit:verify -- FILE [--key BASE64_ED25519_PUBLIC_KEY]   (the key from GET /v1/audit/keys)');
    return 64;
  }
  const report = checkExport(readFileSync(file, 'utf8'), key ? Buffer.from(key, 'base64') : undefined);
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
