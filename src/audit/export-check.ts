// Offline verification of an audit export (NDJSON): the chain, line by line, and the Ed25519
// signatures of its checkpoints and of the head it ends with. Pure: the audit:verify script and
// the tests use it as it is.
import type { KeyObject } from 'node:crypto';
import { ChainChecker, type ChainLink } from './audit-chain';
import { publicKeyFromRaw, verifyHead } from './checkpoints';

export interface ExportReport {
  ok: boolean;
  events: number;
  checkpoints: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** 1-based line number of the first problem. */
  brokenLine: number | null;
  problem: string | null;
  keyId: string | null;
  /** True when the signatures were checked against the key written in the export itself. */
  selfKeyed: boolean;
}

interface Signed {
  seq: number;
  hash: string | null;
  keyId: string;
  signature: string;
}

export function checkExport(text: string, trustedKey?: Buffer): ExportReport {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const report: ExportReport = { ok: false, events: 0, checkpoints: 0, firstSeq: null, lastSeq: null, brokenLine: null, problem: null, keyId: null, selfKeyed: !trustedKey };
  const fail = (line: number, problem: string): ExportReport => ({ ...report, ok: false, brokenLine: line, problem });

  let tenantId = '';
  let key: KeyObject | null = trustedKey ? publicKeyFromRaw(trustedKey) : null;
  let checker: ChainChecker | null = null;
  let headSeen = false;
  let lastHash: string | null = null;

  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(lines[i]!) as Record<string, unknown>;
    } catch {
      return fail(n, 'not JSON');
    }
    if (headSeen) return fail(n, 'lines after the signed head');
    if (i === 0) {
      if (rec.type !== 'export' || typeof rec.tenantId !== 'string') return fail(n, 'the first line is not the export header');
      tenantId = rec.tenantId;
      report.keyId = String(rec.keyId ?? '');
      if (!key) {
        try {
          key = publicKeyFromRaw(Buffer.from(String(rec.publicKey ?? ''), 'base64'));
        } catch {
          return fail(n, 'the header holds no usable public key');
        }
      }
      continue;
    }
    if (rec.type === 'event') {
      const link = rec as unknown as ChainLink & { tenantId: string };
      if (link.tenantId !== tenantId) return fail(n, 'an event of another tenant');
      checker ??= new ChainChecker(link.seq, link.prevHash);
      if (!checker.add(link)) return fail(n, `event seq ${link.seq} does not match the chain (changed, missing or out of order)`);
      report.events++;
      report.firstSeq ??= link.seq;
      report.lastSeq = link.seq;
      lastHash = link.hash;
      continue;
    }
    if (rec.type === 'checkpoint' || rec.type === 'head') {
      const s = rec as unknown as Signed;
      if (!verifyHead({ tenantId, seq: s.seq, hash: s.hash ?? '' }, s.signature, key!)) return fail(n, `the signature of the ${rec.type} at seq ${s.seq} does not verify`);
      if (rec.type === 'checkpoint') {
        if (s.seq !== report.lastSeq || s.hash !== lastHash) return fail(n, `checkpoint seq ${s.seq} does not match the chain`);
        report.checkpoints++;
      } else {
        if (s.seq !== (report.lastSeq ?? s.seq) || (report.lastSeq !== null && s.hash !== lastHash)) {
          return fail(n, `the signed head is seq ${s.seq}, but the events end at seq ${report.lastSeq}: events were removed`);
        }
        headSeen = true;
      }
      continue;
    }
    return fail(n, `unknown line type ${JSON.stringify(rec.type)}`);
  }
  if (!headSeen) return fail(lines.length + 1, 'the export ends without its signed head: it was cut short');
  return { ...report, ok: true };
}
