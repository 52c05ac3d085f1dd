// Checking an endpoint's URL when it is configured (a webhook, a webhook rotator), with the rules
// every call applies again: refused with a typed error naming the argument.
import { badInput } from '../platform/errors';
import { OutboundRefused } from './address-rules';
import { withinDeadline } from './deadline';
import type { HttpOutbound } from './http-outbound';

const MAX_URL = 2048;

/**
 * A URL an endpoint may be created with: http(s), no credentials in it, not an address the rules
 * refuse. A name that does not resolve yet (a receiver still being set up) is accepted: every
 * call resolves it again and refuses such addresses then.
 */
export async function checkTargetUrl(http: HttpOutbound, raw: string, what: string, argument = 'url'): Promise<string> {
  if (raw.length > MAX_URL) throw badInput(`the URL must be at most ${MAX_URL} characters`, { argument });
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw badInput(`${JSON.stringify(raw.slice(0, 200))} is not a URL`, { argument });
  }
  if (url.username || url.password) throw badInput('the URL must not carry credentials', { argument });
  try {
    await withinDeadline(http.deadlineMs, () => http.vet(url));
  } catch (err) {
    if (err instanceof OutboundRefused) throw badInput(`${what} refused: ${err.message}`, { argument });
  }
  return url.toString();
}
