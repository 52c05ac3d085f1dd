// Reads a latchkey.yaml: YAML syntax, then the JSON Schema in schema/, then the rules a schema
// cannot say (unique names, known references, durations). Every error names file:line:column.
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';
import { LineCounter, type Node, parseDocument } from 'yaml';
import { DurationError, formatDuration, parseDuration } from '../platform/duration';
import jsonSchema from '../../schema/latchkey.schema.json';
import { DomainError } from '../platform/errors';
import { parseCidrs } from '../tokens/networks';
import { CliError, ExitCode } from './errors';

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
export type DesiredRotator = ({ kind: 'WEBHOOK'; url: string } | { kind: 'POSTGRES'; connection: string; roles: string[] } | { kind: 'REDIS'; connection: string }) & {
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
  policies?: Array<{ name: string; rotateEvery?: string; gracePeriod: string; expireAfter?: string; notifyBefore?: string[]; rateLimit?: { requests: number; per: string }; onReuse?: 'NOTIFY' | 'REVOKE' }>;
  roles?: Array<{ name: string; description?: string; permissions: string[] }>;
  owners?: Array<{ name: string; kind: 'USER' | 'TEAM' | 'SERVICE'; email?: string; allowedScopes?: string[]; roles?: string[] }>;
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

const ajv = new Ajv({ allErrors: false, strict: false });
ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
const validate = ajv.compile(jsonSchema);

export const MANAGED_LABEL = { key: 'managed-by', value: 'latchkey' };

export function loadPolicyFile(path: string): PolicyFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`${path}: cannot read: ${(err as Error).message}`, ExitCode.USAGE);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${path}:${line}:${col}`;
  };
  const syntax = doc.errors[0];
  if (syntax) throw invalid(`${at(syntax.pos[0])}: ${syntax.message.split('\n')[0]}`);
  const where = (p: Array<string | number>) => {
    // The deepest node that exists on the path: a missing property is reported at its parent.
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n), true) as Node | undefined;
      if (node && (node as { range?: [number, number, number] }).range) return at((node as { range: [number, number, number] }).range[0]);
    }
    return `${path}:1:1`;
  };
  const raw = doc.toJS() as Raw | null;
  if (!validate(raw)) {
    const e = validate.errors![0]!;
    const p = e.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
    const extra = e.keyword === 'additionalProperties' ? ` (${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)})` : e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : '';
    throw invalid(`${where(p)}: ${e.instancePath || 'the file'} ${e.message}${extra}`);
  }
  const file = raw!;
  const duration = (value: string, p: Array<string | number>) => {
    try {
      return formatDuration(parseDuration(value));
    } catch (err) {
      if (err instanceof DurationError) throw invalid(`${where(p)}: ${err.message}`);
      throw err;
    }
  };
  const networks = (cidrs: string[], p: Array<string | number>): string[] => {
    try {
      return parseCidrs(cidrs).sort();
    } catch (err) {
      if (err instanceof DomainError) throw invalid(`${where(p)}: ${err.message}`);
      throw err;
    }
  };
  const instant = (value: string, p: Array<string | number>) => {
    const at = new Date(/T/.test(value) ? value : `${value}T00:00:00Z`);
    // Date rolls 2027-02-30 over into March: the calendar date written must exist as written.
    const [y, m, d] = value.slice(0, 10).split('-').map(Number);
    const day = new Date(Date.UTC(y!, m! - 1, d));
    if (Number.isNaN(at.getTime()) || day.getUTCMonth() !== m! - 1 || day.getUTCDate() !== d) throw invalid(`${where(p)}: ${JSON.stringify(value)} is not a date (2027-03-31 or 2027-03-31T12:00:00Z)`);
    return at.toISOString();
  };
  const url = (value: string, p: Array<string | number>) => {
    try {
      return new URL(value.trim()).toString();
    } catch {
      throw invalid(`${where(p)}: ${JSON.stringify(value)} is not a URL`);
    }
  };
  const unique = (section: keyof Raw, key: (x: never) => string) => {
    const seen = new Set<string>();
    ((file[section] ?? []) as never[]).forEach((x, i) => {
      const k = key(x);
      if (seen.has(k)) throw invalid(`${where([section, i, 'name'])}: ${section} has ${JSON.stringify(k)} twice`);
      seen.add(k);
    });
  };
  unique('scopes', (s: { name: string }) => s.name);
  unique('policies', (s: { name: string }) => s.name.toLowerCase());
  unique('roles', (s: { name: string }) => s.name.toLowerCase());
  unique('owners', (s: { name: string }) => s.name);
  unique('tokens', (s: { owner: string; name: string }) => `${s.owner}/${s.name}`);
  const owners = new Map((file.owners ?? []).map((o, i) => [o.name, { ceiling: new Set(o.allowedScopes ?? []), at: where(['owners', i, o.allowedScopes ? 'allowedScopes' : 'name']) }]));
  (file.tokens ?? []).forEach((t, i) => {
    const owner = owners.get(t.owner);
    if (!owner) throw invalid(`${where(['tokens', i, 'owner'])}: owner ${JSON.stringify(t.owner)} is not declared under owners`);
    // A ceiling that does not hold a token's scope would take it off the token (or refuse it).
    (t.scopes ?? []).forEach((scope, j) => {
      if (!owner.ceiling.has(scope)) {
        throw invalid(
          `${where(['tokens', i, 'scopes', j])}: scope ${JSON.stringify(scope)} is outside the ceiling of owner ${JSON.stringify(t.owner)} (declared at ${owner.at})`,
        );
      }
    });
  });
  unique('credentials', (s: { name: string }) => s.name);
  (file.webhooks ?? []).reduce((seen, w, i) => {
    const u = url(w.url, ['webhooks', i, 'url']);
    if (seen.has(u)) throw invalid(`${where(['webhooks', i, 'url'])}: webhooks has ${JSON.stringify(u)} twice`);
    return seen.add(u);
  }, new Set<string>());
  const sorted = (xs: string[] | undefined) => [...new Set(xs ?? [])].sort();
  const rotatorOf = (r: NonNullable<NonNullable<Raw['credentials']>[number]['rotator']>, i: number): DesiredRotator => {
    const at = ['credentials', i, 'rotator'];
    const kinds = [r.webhook, r.postgres, r.redis].filter((k) => k !== undefined).length;
    if (kinds !== 1) throw invalid(`${where(at)}: a rotator is exactly one of webhook, postgres or redis`);
    const timing = { rotateEvery: r.every ? duration(r.every, [...at, 'every']) : null, gracePeriod: duration(r.grace, [...at, 'grace']) };
    if (r.postgres !== undefined && r.roles?.length !== 2) throw invalid(`${where(at)}: a postgres rotator names its two roles`);
    if (r.webhook !== undefined) return { kind: 'WEBHOOK', url: url(r.webhook, [...at, 'webhook']), ...timing };
    if (r.postgres !== undefined) return { kind: 'POSTGRES', connection: r.postgres, roles: r.roles!, ...timing };
    return { kind: 'REDIS', connection: r.redis!, ...timing };
  };
  return {
    path,
    where,
    scopes: (file.scopes ?? []).map((s) => ({ name: s.name, description: s.description ?? null })),
    policies: (file.policies ?? []).map((p, i) => ({
      name: p.name,
      rotateEvery: p.rotateEvery ? duration(p.rotateEvery, ['policies', i, 'rotateEvery']) : null,
      gracePeriod: duration(p.gracePeriod, ['policies', i, 'gracePeriod']),
      expireAfter: p.expireAfter ? duration(p.expireAfter, ['policies', i, 'expireAfter']) : null,
      // As the server keeps them: longest first, no duplicates.
      notifyBefore: [...new Set((p.notifyBefore ?? []).map((d, j) => duration(d, ['policies', i, 'notifyBefore', j])))].sort((a, b) => parseDuration(b) - parseDuration(a)),
      rateLimit: p.rateLimit ? { requests: p.rateLimit.requests, per: duration(p.rateLimit.per, ['policies', i, 'rateLimit', 'per']) } : null,
      onReuse: p.onReuse ?? 'NOTIFY',
    })),
    roles: (file.roles ?? []).map((r) => ({ name: r.name, description: r.description ?? null, permissions: sorted(r.permissions) })),
    owners: (file.owners ?? []).map((o) => ({ name: o.name, kind: o.kind, email: o.email ?? null, allowedScopes: sorted(o.allowedScopes), roles: sorted(o.roles) })),
    tokens: (file.tokens ?? []).map((t, i) => ({
      name: t.name,
      owner: t.owner,
      description: t.description ?? null,
      scopes: sorted(t.scopes),
      policy: t.policy ?? null,
      labels: { ...(t.labels ?? {}), [MANAGED_LABEL.key]: MANAGED_LABEL.value },
      allowedCidrs: t.allowedCidrs ? networks(t.allowedCidrs, ['tokens', i, 'allowedCidrs']) : null,
      rateLimit: t.rateLimit ? { requests: t.rateLimit.requests, per: duration(t.rateLimit.per, ['tokens', i, 'rateLimit', 'per']) } : null,
      expiresAt: t.expiresAt ? instant(t.expiresAt, ['tokens', i, 'expiresAt']) : null,
    })),
    webhooks: (file.webhooks ?? []).map((w, i) => ({ url: url(w.url, ['webhooks', i, 'url']), events: sorted(w.events), description: w.description ?? null, enabled: w.enabled ?? null })),
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
}

const invalid = (message: string) => new CliError(message, ExitCode.INVALID);
