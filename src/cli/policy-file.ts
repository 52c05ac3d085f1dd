// Reads a latchkey.yaml: YAML syntax, then the JSON Schema in schema/, then the rules a schema
// cannot say (unique names, known references, durations). Every error names file:line:column, and
// each stage reports all of its errors at once.
import { LineCounter, type Node, parseDocument } from 'yaml';
import { DurationError, formatDuration, parseDuration } from '../platform/iso-duration';
import { DomainError } from '../platform/errors';
import { parseCidrs } from '../platform/networks';
import { CliError, ExitCode } from './errors';
import { parseInstant } from './instant';
import { readLimited } from './local-files';
import { controlProblems, schemaProblems } from './policy-file-checks';

export interface DesiredScope {
  name: string;
  description: string | null;
}
export interface DesiredPolicy {
  name: string;
  rotateEvery: string | null;
  gracePeriod: string;
  expireAfter: string | null;
  notifyBefore: string[];
  rateLimit: { requests: number; per: string } | null;
  onReuse: 'NOTIFY' | 'REVOKE';
}
export interface DesiredRole {
  name: string;
  description: string | null;
  permissions: string[];
}
export interface DesiredOwner {
  name: string;
  kind: 'USER' | 'TEAM' | 'SERVICE';
  email: string | null;
  allowedScopes: string[];
  roles: string[];
}
export interface DesiredToken {
  name: string;
  owner: string;
  description: string | null;
  scopes: string[];
  policy: string | null;
  labels: Record<string, string>;
  /** Normalised as the server keeps them (10.1.2.3 is 10.1.2.3/32), sorted; null: anywhere. */
  allowedCidrs: string[] | null;
  rateLimit: { requests: number; per: string } | null;
  /** ISO 8601 in UTC; null: left as it is (an expiry is never lifted by leaving it out). */
  expiresAt: string | null;
}
export interface DesiredWebhook {
  /** As the server keeps it (new URL(…).toString()): the webhook's identity in the file. */
  url: string;
  events: string[];
  description: string | null;
  /** null: left as it is (an endpoint disabled after failing stays so until enabled). */
  enabled: boolean | null;
}
export type DesiredRotator = (
  | { kind: 'WEBHOOK'; url: string }
  | { kind: 'POSTGRES'; connection: string; roles: string[] }
  | { kind: 'REDIS'; connection: string }
) & {
  rotateEvery: string | null;
  gracePeriod: string;
};
export interface DesiredCredential {
  name: string;
  service: string | null;
  description: string | null;
  /** null: left as it is. */
  owner: string | null;
  labels: Record<string, string>;
  readers: string[];
  /** null: left as it is. */
  rotator: DesiredRotator | null;
}
export interface PolicyFile {
  path: string;
  /** The text it was parsed from: what a saved plan carries. */
  text: string;
  scopes: DesiredScope[];
  policies: DesiredPolicy[];
  roles: DesiredRole[];
  owners: DesiredOwner[];
  tokens: DesiredToken[];
  credentials: DesiredCredential[];
  webhooks: DesiredWebhook[];
  /** The file has a webhooks section: only then does --prune delete endpoints it does not list. */
  managesWebhooks: boolean;
  /** Where a value sits in the file, for messages about it later (plan errors). */
  where(path: Array<string | number>): string;
}

type Raw = {
  scopes?: Array<{ name: string; description?: string }>;
  policies?: Array<{
    name: string;
    rotateEvery?: string;
    gracePeriod: string;
    expireAfter?: string;
    notifyBefore?: string[];
    rateLimit?: { requests: number; per: string };
    onReuse?: 'NOTIFY' | 'REVOKE';
  }>;
  roles?: Array<{ name: string; description?: string; permissions: string[] }>;
  owners?: Array<{
    name: string;
    kind: 'USER' | 'TEAM' | 'SERVICE';
    email?: string;
    allowedScopes?: string[];
    roles?: string[];
  }>;
  tokens?: Array<{
    name: string;
    owner: string;
    description?: string;
    scopes?: string[];
    policy?: string;
    labels?: Record<string, string>;
    allowedCidrs?: string[];
    rateLimit?: { requests: number; per: string };
    expiresAt?: string;
  }>;
  webhooks?: Array<{ url: string; events: string[]; description?: string; enabled?: boolean }>;
  credentials?: Array<{
    name: string;
    service?: string;
    description?: string;
    owner?: string;
    labels?: Record<string, string>;
    readers?: string[];
    rotator?: { webhook?: string; postgres?: string; roles?: string[]; redis?: string; every?: string; grace: string };
  }>;
};

export const MANAGED_LABEL = { key: 'managed-by', value: 'latchkey' };

/** A policy file larger than this is refused before it is parsed. */
export const POLICY_FILE_LIMIT_MB = 5;

export function loadPolicyFile(path: string): PolicyFile {
  return parsePolicyFile(readLimited(path, POLICY_FILE_LIMIT_MB, 'a policy file'), path);
}

/** A policy file's text (`path` names it in messages); every problem of a stage is reported at once. */
export function parsePolicyFile(text: string, path: string): PolicyFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${path}:${line}:${col}`;
  };
  if (doc.errors.length) throw invalid(doc.errors.map((e) => `${at(e.pos[0])}: ${e.message.split('\n')[0]}`));
  const where = (p: Array<string | number>) => {
    // The deepest node that exists on the path: a missing property is reported at its parent.
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n), true) as Node | undefined;
      if (node && (node as { range?: [number, number, number] }).range)
        return at((node as { range: [number, number, number] }).range[0]);
    }
    return `${path}:1:1`;
  };
  let raw: Raw | null;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) as Raw | null;
  } catch (err) {
    throw invalid([`${path}: ${(err as Error).message}`]);
  }
  const shape = schemaProblems(raw, where);
  if (shape.length) throw invalid(shape);
  const problems = controlProblems(raw, where);
  const file = raw!;
  const fail = (p: Array<string | number>, message: string) => void problems.push(`${where(p)}: ${message}`);
  const duration = (value: string, p: Array<string | number>) => {
    try {
      return formatDuration(parseDuration(value));
    } catch (err) {
      if (!(err instanceof DurationError)) throw err;
      fail(p, err.message);
      return value;
    }
  };
  const networks = (cidrs: string[], p: Array<string | number>): string[] => {
    try {
      return parseCidrs(cidrs).sort();
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      fail(p, err.message);
      return cidrs;
    }
  };
  const instant = (value: string, p: Array<string | number>) => {
    const parsed = parseInstant(value);
    if (parsed === null) fail(p, `${JSON.stringify(value)} is not a date (2027-03-31 or 2027-03-31T12:00:00Z)`);
    return parsed ?? value;
  };
  const url = (value: string, p: Array<string | number>) => {
    try {
      return new URL(value.trim()).toString();
    } catch {
      fail(p, `${JSON.stringify(value)} is not a URL`);
      return value;
    }
  };
  const unique = (section: keyof Raw, key: (x: never) => string) => {
    const seen = new Set<string>();
    ((file[section] ?? []) as never[]).forEach((x, i) => {
      const k = key(x);
      if (seen.has(k)) fail([section, i, 'name'], `${section} has ${JSON.stringify(k)} twice`);
      seen.add(k);
    });
  };
  unique('scopes', (s: { name: string }) => s.name);
  unique('policies', (s: { name: string }) => s.name.toLowerCase());
  unique('roles', (s: { name: string }) => s.name.toLowerCase());
  unique('owners', (s: { name: string }) => s.name);
  unique('tokens', (s: { owner: string; name: string }) => `${s.owner}/${s.name}`);
  unique('credentials', (s: { name: string }) => s.name);
  const owners = new Map(
    (file.owners ?? []).map((o, i) => [
      o.name,
      { ceiling: new Set(o.allowedScopes ?? []), at: where(['owners', i, o.allowedScopes ? 'allowedScopes' : 'name']) },
    ]),
  );
  (file.tokens ?? []).forEach((t, i) => {
    const owner = owners.get(t.owner);
    if (!owner) return fail(['tokens', i, 'owner'], `owner ${JSON.stringify(t.owner)} is not declared under owners`);
    // A ceiling that does not hold a token's scope would take it off the token (or refuse it).
    (t.scopes ?? []).forEach((scope, j) => {
      if (!owner.ceiling.has(scope))
        fail(
          ['tokens', i, 'scopes', j],
          `scope ${JSON.stringify(scope)} is outside the ceiling of owner ${JSON.stringify(t.owner)} (declared at ${owner.at})`,
        );
    });
  });
  (file.webhooks ?? []).reduce((seen, w, i) => {
    const u = url(w.url, ['webhooks', i, 'url']);
    if (seen.has(u)) fail(['webhooks', i, 'url'], `webhooks has ${JSON.stringify(u)} twice`);
    return seen.add(u);
  }, new Set<string>());
  const sorted = (xs: string[] | undefined) => [...new Set(xs ?? [])].sort();
  const rotatorOf = (r: NonNullable<NonNullable<Raw['credentials']>[number]['rotator']>, i: number): DesiredRotator => {
    const p = ['credentials', i, 'rotator'];
    if ([r.webhook, r.postgres, r.redis].filter((k) => k !== undefined).length !== 1)
      fail(p, 'a rotator is exactly one of webhook, postgres or redis');
    if (r.postgres !== undefined && r.roles?.length !== 2) fail(p, 'a postgres rotator names its two roles');
    const timing = {
      rotateEvery: r.every ? duration(r.every, [...p, 'every']) : null,
      gracePeriod: duration(r.grace, [...p, 'grace']),
    };
    if (r.webhook !== undefined) return { kind: 'WEBHOOK', url: url(r.webhook, [...p, 'webhook']), ...timing };
    if (r.postgres !== undefined) return { kind: 'POSTGRES', connection: r.postgres, roles: r.roles ?? [], ...timing };
    return { kind: 'REDIS', connection: r.redis ?? '', ...timing };
  };
  const parsed: PolicyFile = {
    path,
    text,
    where,
    scopes: (file.scopes ?? []).map((s) => ({ name: s.name, description: s.description ?? null })),
    policies: (file.policies ?? []).map((p, i) => ({
      name: p.name,
      rotateEvery: p.rotateEvery ? duration(p.rotateEvery, ['policies', i, 'rotateEvery']) : null,
      gracePeriod: duration(p.gracePeriod, ['policies', i, 'gracePeriod']),
      expireAfter: p.expireAfter ? duration(p.expireAfter, ['policies', i, 'expireAfter']) : null,
      // As the server keeps them: longest first, no duplicates.
      notifyBefore: [
        ...new Set((p.notifyBefore ?? []).map((d, j) => duration(d, ['policies', i, 'notifyBefore', j]))),
      ].sort((a, b) => seconds(b) - seconds(a)),
      rateLimit: p.rateLimit
        ? { requests: p.rateLimit.requests, per: duration(p.rateLimit.per, ['policies', i, 'rateLimit', 'per']) }
        : null,
      onReuse: p.onReuse ?? 'NOTIFY',
    })),
    roles: (file.roles ?? []).map((r) => ({
      name: r.name,
      description: r.description ?? null,
      permissions: sorted(r.permissions),
    })),
    owners: (file.owners ?? []).map((o) => ({
      name: o.name,
      kind: o.kind,
      email: o.email ?? null,
      allowedScopes: sorted(o.allowedScopes),
      roles: sorted(o.roles),
    })),
    tokens: (file.tokens ?? []).map((t, i) => ({
      name: t.name,
      owner: t.owner,
      description: t.description ?? null,
      scopes: sorted(t.scopes),
      policy: t.policy ?? null,
      labels: { ...(t.labels ?? {}), [MANAGED_LABEL.key]: MANAGED_LABEL.value },
      allowedCidrs: t.allowedCidrs ? networks(t.allowedCidrs, ['tokens', i, 'allowedCidrs']) : null,
      rateLimit: t.rateLimit
        ? { requests: t.rateLimit.requests, per: duration(t.rateLimit.per, ['tokens', i, 'rateLimit', 'per']) }
        : null,
      expiresAt: t.expiresAt ? instant(t.expiresAt, ['tokens', i, 'expiresAt']) : null,
    })),
    webhooks: (file.webhooks ?? []).map((w, i) => ({
      url: url(w.url, ['webhooks', i, 'url']),
      events: sorted(w.events),
      description: w.description ?? null,
      enabled: w.enabled ?? null,
    })),
    managesWebhooks: file.webhooks !== undefined,
    credentials: (file.credentials ?? []).map((c, i) => ({
      name: c.name,
      service: c.service ?? null,
      description: c.description ?? null,
      owner: c.owner ?? null,
      labels: c.labels ?? {},
      readers: sorted(c.readers),
      rotator: c.rotator ? rotatorOf(c.rotator, i) : null,
    })),
  };
  if (problems.length) throw invalid(problems);
  return parsed;
}

/** A duration the file wrote, in seconds (0 for one already reported as wrong). */
const seconds = (d: string) => {
  try {
    return parseDuration(d);
  } catch {
    return 0;
  }
};

/** Problems in the order of the file: one line each, `file:line:column: what`. */
function invalid(problems: string[]): CliError {
  const position = (p: string) => (/:(\d+):(\d+): /.exec(p) ?? [0, 0, 0]).slice(1).map(Number);
  const ordered = [...new Set(problems)].sort((a, b) => {
    const [la, ca] = position(a);
    const [lb, cb] = position(b);
    return la! - lb! || ca! - cb!;
  });
  return new CliError(ordered.join('\n'), ExitCode.INVALID);
}
