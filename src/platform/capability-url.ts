// A URL may be a capability: a Slack-style webhook or a rotator endpoint often carries its token
// in the path or the query, and whoever reads it can call it. Readers without the right to change
// it see it masked, and the audit log keeps only the masked form and a digest.
import { createHash } from 'node:crypto';

/** The origin alone: any path, query or fragment becomes "/…" (a single segment can be the whole token). */
export function maskUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return '…';
  }
  return `${url.origin}${url.pathname.replace(/^\/+/, '') || url.search || url.hash ? '/…' : ''}`;
}

/** SHA-256 of the whole URL, hex: tells whether an endpoint sends to a URL one holds, without showing it. */
export const urlDigest = (raw: string): string => createHash('sha256').update(raw).digest('hex');
