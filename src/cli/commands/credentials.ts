// latchkey credentials list|show|create|put|history|grant|revoke-access|rotator|rotate|get.
// Values are read from stdin (never from an argument: it would land in shell history and the
// process list) and printed only by `get`, alone on stdout, for scripts.
import type { Command } from 'commander';
import { CredentialError, type CredentialsClient } from '../../client/credentials';
import { collect, contextOf, countArg, type Ctx, durationArg, labelsOf } from '../context';
import { instantArg } from '../instant';
import { CliError, ExitCode, usage } from '../errors';
import {
  AddCredentialVersionDocument,
  CreateCredentialDocument,
  CredentialByNameDocument,
  type CredentialFieldsFragment,
  CredentialHistoryDocument,
  CredentialRotationsDocument,
  CredentialsDocument,
  GrantCredentialDocument,
  RotateCredentialDocument,
  type RotatorKind,
  SetCredentialRotatorDocument,
  RevokeCredentialAccessDocument,
} from '../generated/graphql';
import { visible } from '../terminal-text';
import { ownerIdOf } from './tokens';

const row = (c: CredentialFieldsFragment) => ({
  name: c.name,
  service: c.service,
  version: c.currentVersion?.version,
  expiresAt: c.currentVersion?.expiresAt,
  readers: c.readers.length,
  updatedAt: c.updatedAt,
});

/** The value piped on stdin (one trailing newline dropped, as `echo` adds one). */
async function valueFromStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw usage('pipe the value on stdin, e.g.  printf %s "$CRM_KEY" | latchkey credentials create crm-sales-readonly');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const value = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!value) throw usage('stdin was empty: pipe the value in');
  return value;
}

/** A credential with its newest versions as a list (`versionCount` says how many there are in all). */
async function byName(ctx: Ctx, name: string) {
  const { credential } = await ctx.client.request(CredentialByNameDocument, { name });
  if (!credential) throw new CliError(`no credential named ${JSON.stringify(name)}`, ExitCode.NOT_FOUND);
  const { versions, ...rest } = credential;
  return { ...rest, versions: versions.edges.map((e) => e.node), versionCount: versions.totalCount };
}

/** A REST read's refusal as the exit code the rest of the CLI uses. */
export async function read(credentials: CredentialsClient, name: string) {
  try {
    return await credentials.get(name);
  } catch (err) {
    if (!(err instanceof CredentialError))
      throw new CliError(`cannot reach Latchkey: ${(err as Error).message}`, ExitCode.UNAVAILABLE);
    const code =
      { 401: ExitCode.AUTH, 403: ExitCode.FORBIDDEN, 404: ExitCode.NOT_FOUND, 400: ExitCode.INVALID }[err.status] ??
      ExitCode.SERVER;
    throw new CliError(err.message, code, err.code);
  }
}

export function credentialCommands(program: Command): void {
  const credentials = program
    .command('credentials')
    .description("managed credentials: other systems' tokens, kept sealed and handed out audited");

  credentials
    .command('list')
    .description('credentials by name, with their current version (never values)')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const list: CredentialFieldsFragment[] = [];
      for await (const c of ctx.client.pages(
        async (after) => (await ctx.client.request(CredentialsDocument, { first: 100, after })).credentials,
      ))
        list.push(c);
      ctx.out.result(list, () =>
        ctx.out.table(list.map(row), ['name', 'service', 'version', 'expiresAt', 'readers', 'updatedAt']),
      );
    });

  credentials
    .command('show <name>')
    .description('one credential: metadata, versions and who may read it (never the value)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const c = await byName(ctx, name);
      ctx.out.result(c, () => {
        const { versions, readers, currentVersion, ...rest } = c;
        ctx.out.record(rest);
        ctx.out.line();
        ctx.out.table(versions, ['version', 'state', 'expiresAt', 'graceEndsAt', 'createdAt', 'retiredAt']);
        ctx.out.line();
        ctx.out.table(readers, ['ownerId', 'grantedBy', 'createdAt']);
      });
    });

  credentials
    .command('create <name>')
    .description('store a credential; its value is read from stdin')
    .option('--service <service>', 'the system that issued it (salesforce, mixpanel)')
    .option('--description <text>', 'what it is for')
    .option('--owner <id|name>', 'the answerable owner (default: you)')
    .option('--label <key=value>', 'a label (repeatable)', collect)
    .option(
      '--expires-at <date>',
      "the vendor's expiry of this value: 2027-03-31 (midnight UTC) or 2027-03-31T18:00:00+02:00",
      instantArg,
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ printf %s "$CRM_KEY" | latchkey credentials create crm-sales-readonly --service salesforce',
    )
    .action(
      async (
        name: string,
        o: { service?: string; description?: string; owner?: string; label?: string[]; expiresAt?: string },
        cmd: Command,
      ) => {
        const ctx = contextOf(cmd);
        const value = await valueFromStdin();
        const { createCredential } = await ctx.client.request(CreateCredentialDocument, {
          input: {
            name,
            value,
            service: o.service,
            description: o.description,
            ownerId: o.owner ? await ownerIdOf(ctx, o.owner) : undefined,
            labels: labelsOf(o.label),
            expiresAt: o.expiresAt,
          },
        });
        ctx.out.result(createCredential, () => ctx.out.record(row(createCredential)));
      },
    );

  credentials
    .command('put <name>')
    .description('add a version by hand (the vendor issued a new value); the value is read from stdin')
    .option(
      '--grace <duration>',
      'how long the replaced value stays readable (e.g. 1h, P1D; 0s retires it at once)',
      durationArg,
      'PT1H',
    )
    .option(
      '--expires-at <date>',
      "the vendor's expiry of the new value: 2027-03-31 or 2027-03-31T18:00:00+02:00",
      instantArg,
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ printf %s "$NEW_KEY" | latchkey credentials put crm-sales-readonly --grace 1d',
    )
    .action(async (name: string, o: { grace: string; expiresAt?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const value = await valueFromStdin();
      const { addCredentialVersion: v } = await ctx.client.request(AddCredentialVersionDocument, {
        input: { name, value, gracePeriod: o.grace, expiresAt: o.expiresAt },
      });
      ctx.out.result(v, () => ctx.out.line(`${name}: version ${v.version} is CURRENT`));
    });

  credentials
    .command('history <name>')
    .description('what happened to a credential: versions, grants and every reveal (who, which version, from where)')
    .option('--limit <n>', 'at most this many events', countArg, 100)
    .action(async (name: string, o: { limit: number }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const events: Array<{
        seq: number;
        at: string;
        action: string;
        actorId?: string | null;
        data: Record<string, unknown>;
      }> = [];
      for await (const e of ctx.client.pages(async (after) => {
        const { credential } = await ctx.client.request(CredentialHistoryDocument, { name, first: 100, after });
        if (!credential) throw new CliError(`no credential named ${JSON.stringify(name)}`, ExitCode.NOT_FOUND);
        return credential.history;
      })) {
        events.push(e);
        if (events.length >= o.limit) break;
      }
      ctx.out.result(events, () =>
        ctx.out.table(
          events.map((e) => ({
            seq: e.seq,
            at: e.at,
            action: e.action,
            by: e.actorId,
            version: e.data.version,
            from: e.data.clientIp,
          })),
          ['seq', 'at', 'action', 'by', 'version', 'from'],
        ),
      );
    });

  const access = (
    command: string,
    description: string,
    change: (ctx: Ctx, name: string, ownerId: string) => Promise<unknown>,
    done: string,
  ) =>
    credentials
      .command(`${command} <name>`)
      .description(description)
      .requiredOption('--owner <id|name>', 'the owner (a service such as homepage-dashboard-backend)')
      .action(async (name: string, o: { owner: string }, cmd: Command) => {
        const ctx = contextOf(cmd);
        const result = await change(ctx, name, await ownerIdOf(ctx, o.owner));
        ctx.out.result(result, () => ctx.out.line(`${name}: ${done} ${o.owner}`));
      });
  access(
    'grant',
    'let an owner read the values (audited)',
    (ctx, name, ownerId) => ctx.client.request(GrantCredentialDocument, { name, ownerId }),
    'readable by',
  );
  access(
    'revoke-access',
    "withdraw an owner's right to read the values",
    (ctx, name, ownerId) => ctx.client.request(RevokeCredentialAccessDocument, { name, ownerId }),
    'no longer readable by',
  );

  credentials
    .command('rotator <name>')
    .description('set who rotates the credential: a webhook you run, or the built-in Postgres or Redis rotator')
    .option('--webhook <url>', 'an HTTPS endpoint answering the create, set, test and finish steps')
    .option('--postgres <connection>', 'the credential holding a privileged postgres:// URL (with --roles)')
    .option('--roles <a,b>', 'Postgres: the two login roles used in turn')
    .option('--redis <connection>', 'the credential holding a privileged redis:// URL')
    .option(
      '--every <duration>',
      'rotate on this schedule (e.g. 30d); left out: only with `credentials rotate`',
      durationArg,
    )
    .option('--grace <duration>', 'how long the replaced value stays readable and accepted', durationArg, 'PT1H')
    .addHelpText(
      'after',
      '\nExamples:\n  $ latchkey credentials rotator crm-sales-readonly --webhook https://rotators.internal/crm --every 30d --grace 1d\n  $ latchkey credentials rotator reports-db --postgres reports-db-admin --roles reports_a,reports_b --every 7d --grace 1h',
    )
    .action(
      async (
        name: string,
        o: { webhook?: string; postgres?: string; roles?: string; redis?: string; every?: string; grace: string },
        cmd: Command,
      ) => {
        const ctx = contextOf(cmd);
        const kinds = [o.webhook, o.postgres, o.redis].filter(Boolean).length;
        if (kinds !== 1)
          throw usage('name one rotator: --webhook URL, --postgres CONNECTION --roles A,B or --redis CONNECTION');
        const input = o.webhook
          ? { kind: 'WEBHOOK' as RotatorKind, url: o.webhook }
          : o.postgres
            ? {
                kind: 'POSTGRES' as RotatorKind,
                connection: o.postgres,
                roles: (o.roles ?? '')
                  .split(',')
                  .map((r) => r.trim())
                  .filter(Boolean),
              }
            : { kind: 'REDIS' as RotatorKind, connection: o.redis };
        const { setCredentialRotator: r } = await ctx.client.request(SetCredentialRotatorDocument, {
          name,
          input: { ...input, rotateEvery: o.every, gracePeriod: o.grace },
        });
        ctx.out.result(r, () => {
          ctx.out.line(
            `${name}: rotator set${r.credential.nextRotationAt ? `; next rotation ${r.credential.nextRotationAt}` : ''}`,
          );
          if (r.signingSecret) {
            ctx.out.line(`signing secret: ${r.signingSecret}`);
            ctx.out.note("Give it to the rotator to verify Latchkey's calls (Standard Webhooks); it is shown once.");
          }
        });
      },
    );

  credentials
    .command('rotate <name>')
    .description('start a rotation now through its rotator; with --wait, until it ends')
    .option('--wait', 'wait until the rotation is done, failed or abandoned (exit 1 unless done)')
    .action(async (name: string, o: { wait?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { rotateCredential: started } = await ctx.client.request(RotateCredentialDocument, { name });
      let r: { id: string; state: string; step: string; failure?: string | null } = started;
      while (o.wait && r.state === 'RUNNING') {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const { credential } = await ctx.client.request(CredentialRotationsDocument, { name });
        r = credential?.rotations.find((x) => x.id === started.id) ?? r;
      }
      ctx.out.result(r, () =>
        ctx.out.line(
          `${name}: rotation ${r.id} ${r.state.toLowerCase()} at ${r.step}${r.failure ? ` (${r.failure})` : ''}`,
        ),
      );
      if (o.wait && r.state !== 'DONE') process.exitCode = ExitCode.SERVER;
    });

  credentials
    .command('get <name>')
    .description('print the current value alone, for scripts (the read is audited)')
    .addHelpText('after', '\nExample:\n  $ CRM_TOKEN="$(latchkey credentials get crm-sales-readonly)"')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const c = await read(ctx.credentials, name);
      // Alone and as it is for a script; on a terminal, shown without obeying what it may contain.
      ctx.out.result(c, () =>
        process.stdout.write(process.stdout.isTTY ? visible(c.value, { keepNewlines: true }) : c.value),
      );
    });
}
