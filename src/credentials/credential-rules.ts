// What every credential change checks first: names, values, text, grace; the additional data a
// version is sealed to; the row lock that queues concurrent writers of one credential; and the
// transaction that tells the reveal path once it commits.
import type { DataSource } from 'typeorm';
import type { Tx } from '../platform/db';
import { badInput, notFound } from '../platform/errors';
import { TenantScope } from '../platform/tenant-scope';
import { Credential } from './credential.entity';

export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_GRACE_S = 90 * 86_400;
const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export const isCredentialName = (name: string): boolean => NAME.test(name);

export function checkName(name: string, argument = 'name'): string {
  if (!NAME.test(name))
    throw badInput(
      `a credential name is 1-128 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit`,
      { argument },
    );
  return name;
}

export function checkValue(value: string): void {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes === 0) throw badInput('the value is empty', { argument: 'value' });
  if (bytes > MAX_VALUE_BYTES)
    throw badInput(`the value is ${bytes} bytes; at most ${MAX_VALUE_BYTES} (64 KiB)`, { argument: 'value' });
}

export function checkText(value: string | null | undefined, argument: string, max: number): string | null {
  if (value === null || value === undefined) return null;
  if (value.length > max) throw badInput(`${argument} is at most ${max} characters`, { argument });
  return value;
}

export function checkGrace(gracePeriod: number): number {
  if (gracePeriod < 0 || gracePeriod > MAX_GRACE_S)
    throw badInput('gracePeriod is at most P90D', { argument: 'gracePeriod' });
  return gracePeriod;
}

/** The additional data a version's ciphertext is bound to: copied onto another row, it does not open. */
export const versionContext = (tenantId: string, credentialId: string, version: number) =>
  `latchkey:credential:${tenantId}:${credentialId}:${version}`;

/** The credential's row, locked for the transaction: every change takes it first, so writers of one credential queue up. */
export async function lockedCredential(tx: Tx, tenantId: string, name: string): Promise<Credential> {
  const credential = await new TenantScope(tx, tenantId)
    .select(Credential, 'c')
    .andWhere('c.name = :name', { name })
    .setLock('pessimistic_write')
    .getOne();
  if (!credential) throw notFound('credential', name);
  return credential;
}

/** Runs `work` in a transaction, then `changed` (the reveal path forgets what it remembered). */
export async function committed<T>(ds: DataSource, changed: () => void, work: (tx: Tx) => Promise<T>): Promise<T> {
  const result = await ds.transaction(work);
  changed();
  return result;
}
