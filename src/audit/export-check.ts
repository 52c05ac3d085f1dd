// Offline verification of an audit export (NDJSON): the chain, line by line, the Ed25519
// signatures of its checkpoints and of the head it ends with, and, given a head trusted from
// before (an earlier export's), that this export extends it. Pure: the audit:verify script and the
// tests use it as it is.
import type { KeyObject } from 'node:crypto';
import { ChainChecker, type ChainLink } from './audit-chain';
import { keyIdOf, publicKeyFromRaw, verifyHead } from './checkpoints';

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
  /** True when the signatures were checked against the keys written in the export itself. */
  selfKeyed: boolean;
  /** The signed head the export ends with: what a later export must extend. */
  head: TrustedHead | null;
}

/** A point of the chain known to be genuine: seq and hash. */
export interface TrustedHead {
  seq: number;
  hash: string;
}

interface Signed {
  seq: number;
  hash: string | null;
  keyId: string;
  signature: string;
}

/** Keys by id, from raw Ed25519 public keys (what GET /v1/audit/keys serves, base64-decoded). */
export function keyRing(raws: readonly Buffer[]): Map<string, KeyObject> {
  return new Map(raws.map((raw) => [keyIdOf(raw), publicKeyFromRaw(raw)]));
}

/**
 * Checks an export. `trustedKeys`: keys from /v1/audit/keys (else the export's own, which proves
 * only consistency). `trustedHead`: a seq and hash known from before, which the export must
 * contain unchanged.
 */
export function checkExport(
  text: string,
  trustedKeys?: Map<string, KeyObject>,
  trustedHead?: TrustedHead,
): ExportReport {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const report: ExportReport = {
    ok: false,
    events: 0,
    checkpoints: 0,
    firstSeq: null,
    lastSeq: null,
    brokenLine: null,
    problem: null,
    keyId: null,
    selfKeyed: !trustedKeys,
    head: null,
  };
  const fail = (line: number, problem: string): ExportReport => ({ ...report, ok: false, brokenLine: line, problem });

  let tenantId = '';
  let keys: Map<string, KeyObject> = trustedKeys ?? new Map();
  let checker: ChainChecker | null = null;
  let headSeen = false;
  let lastHash: string | null = null;
  let trustedHeadSeen = false;

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
      if (rec.type !== 'export' || typeof rec.tenantId !== 'string')
        return fail(n, 'the first line is not the export header');
      tenantId = rec.tenantId;
      report.keyId = String(rec.keyId ?? '');
      if (!trustedKeys) {
        try {
          const listed = Array.isArray(rec.keys)
            ? (rec.keys as Array<{ publicKey?: unknown }>).map((k) => String(k.publicKey ?? ''))
            : [String(rec.publicKey ?? '')];
          keys = keyRing(listed.map((k) => Buffer.from(k, 'base64')));
        } catch {
          return fail(n, 'the header holds no usable public key');
        }
      }
      continue;
    }
    if (rec.type === 'event') {
      const link = rec as unknown as ChainLink & { tenantId: string };
      if (link.tenantId !== tenantId) return fail(n, 'an event of another tenant');
      if (trustedHead && checker === null && link.seq > trustedHead.seq + 1) {
        return fail(
          n,
          `the export starts at seq ${link.seq}, after the trusted head (seq ${trustedHead.seq}): export from seq ${trustedHead.seq} or earlier`,
        );
      }
      checker ??= new ChainChecker(link.seq, link.prevHash);
      if (!checker.add(link))
        return fail(n, `event seq ${link.seq} does not match the chain (changed, missing or out of order)`);
      if (trustedHead && link.seq === trustedHead.seq) {
        if (link.hash !== trustedHead.hash)
          return fail(n, `event seq ${link.seq} differs from the trusted head: the chain was rewritten`);
        trustedHeadSeen = true;
      }
      // An export starting right after the trusted head must link to it.
      if (trustedHead && report.firstSeq === null && link.seq === trustedHead.seq + 1) {
        if (link.prevHash !== trustedHead.hash)
          return fail(n, `event seq ${link.seq} does not follow the trusted head: the chain was rewritten`);
        trustedHeadSeen = true;
      }
      report.events++;
      report.firstSeq ??= link.seq;
      report.lastSeq = link.seq;
      lastHash = link.hash;
      continue;
    }
    if (rec.type === 'checkpoint' || rec.type === 'head') {
      const s = rec as unknown as Signed;
      const key = keys.get(String(s.keyId));
      if (!key)
        return fail(
          n,
          `the ${rec.type} at seq ${s.seq} is signed with key ${JSON.stringify(s.keyId)}, which is not among the trusted keys`,
        );
      if (!verifyHead({ tenantId, seq: s.seq, hash: s.hash ?? '' }, s.signature, key))
        return fail(n, `the signature of the ${rec.type} at seq ${s.seq} does not verify`);
      if (rec.type === 'checkpoint') {
        if (s.seq !== report.lastSeq || s.hash !== lastHash)
          return fail(n, `checkpoint seq ${s.seq} does not match the chain`);
        report.checkpoints++;
      } else {
        if (s.seq !== (report.lastSeq ?? s.seq) || (report.lastSeq !== null && s.hash !== lastHash)) {
          return fail(
            n,
            `the signed head is seq ${s.seq}, but the events end at seq ${report.lastSeq}: events were removed`,
          );
        }
        if (trustedHead && !trustedHeadSeen && !(s.seq === trustedHead.seq && s.hash === trustedHead.hash)) {
          return fail(
            n,
            `the export ends at seq ${s.seq} without reaching the trusted head (seq ${trustedHead.seq}): events were removed or rewritten`,
          );
        }
        report.head = s.hash ? { seq: s.seq, hash: s.hash } : null;
        headSeen = true;
      }
      continue;
    }
    return fail(n, `unknown line type ${JSON.stringify(rec.type)}`);
  }
  if (!headSeen) return fail(lines.length + 1, 'the export ends without its signed head: it was cut short');
  return { ...report, ok: true };
}
