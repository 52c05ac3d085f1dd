// Checks of a parsed latchkey.yaml that report every problem at once and in words: the JSON
// Schema's (a pattern is described, never quoted as a regex), and text the server would refuse
// half-way through apply (terminal controls in names, descriptions and labels).
import Ajv, { type ErrorObject } from 'ajv';
import jsonSchema from '../../schema/latchkey.schema.json';
import { TERMINAL_CONTROL } from '../platform/hostile-input';

type Where = (path: Array<string | number>) => string;

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
const validate = ajv.compile(jsonSchema);

/** What each pattern of the schema asks for, by where it sits in the schema. */
export const PATTERN_WORDS: Record<string, string> = {
  '#/definitions/duration/pattern':
    'an ISO 8601 duration in weeks, days, hours, minutes or seconds, such as PT1H, P30D or P1DT6H',
  '#/properties/scopes/items/properties/name/pattern':
    'a scope name, <service>:<resource>:<read|write> in lower case, such as crm:sales.summary:read',
  '#/properties/tokens/items/properties/expiresAt/pattern':
    'a date (2027-03-31) or a date and time with its offset (2027-03-31T18:00:00+02:00)',
  '#/properties/credentials/items/properties/name/pattern':
    'a credential name: up to 128 lower-case letters, digits, ".", "_" and "-", starting with a letter or digit',
};

const pathOf = (pointer: string) =>
  pointer
    .split('/')
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));

function words(e: ErrorObject): string {
  const subject = e.instancePath || 'the file';
  if (e.keyword === 'pattern')
    return `${subject} ${JSON.stringify(e.data)} is not ${PATTERN_WORDS[e.schemaPath] ?? 'in the form its schema describes'}`;
  if (e.keyword === 'additionalProperties')
    return `${subject} ${e.message} (${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)})`;
  if (e.keyword === 'enum')
    return `${subject} ${e.message} (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
  return `${subject} ${e.message}`;
}

/** Every way `raw` breaks the JSON Schema, each at its file:line:column. */
export function schemaProblems(raw: unknown, where: Where): string[] {
  if (validate(raw)) return [];
  return [
    ...new Set(
      validate.errors!.map(
        (e) => `${where(pathOf(e.instancePath))}: ${words({ ...e, data: dataAt(raw, pathOf(e.instancePath)) })}`,
      ),
    ),
  ];
}

function dataAt(raw: unknown, path: Array<string | number>): unknown {
  return path.reduce<unknown>((node, k) => (node as Record<string | number, unknown> | undefined)?.[k], raw);
}

/** Every string (and map key) holding a character the server refuses because it would command a terminal. */
export function controlProblems(raw: unknown, where: Where, path: Array<string | number> = []): string[] {
  const found = (text: string, at: Array<string | number>) => {
    const c = TERMINAL_CONTROL.exec(text)?.[0];
    return c
      ? [
          `${where(at)}: ${path.length ? `/${at.join('/')}` : 'the file'} contains the control character U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}, which the server refuses`,
        ]
      : [];
  };
  if (typeof raw === 'string') return found(raw, path);
  if (Array.isArray(raw)) return raw.flatMap((x, i) => controlProblems(x, where, [...path, i]));
  if (raw && typeof raw === 'object')
    return Object.entries(raw).flatMap(([k, v]) => [
      ...found(k, [...path, k]),
      ...controlProblems(v, where, [...path, k]),
    ]);
  return [];
}
