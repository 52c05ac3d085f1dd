// latchkey tokens list|show|issue|rotate|revoke
import type { Command } from 'commander';
import { usage } from '../errors';
import {
  DormantTokensDocument,
  IssueTokenDocument,
  OwnersDocument,
  PoliciesDocument,
  RevokeTokenDocument,
  RotateTokenDocument,
  ResumeTokenDocument,
  SuspendTokenDocument,
  TokenDocument,
  UpdateTokenDocument,
  type TokenFieldsFragment,
  type TokenFilter,
  type TokenKind,
  TokensDocument,
  type TokenStatus,
  ViewerDocument,
} from '../generated/graphql';
import { InvalidArgumentError } from 'commander';
import { collect, confirm, contextOf, countArg, type Ctx, durationArg, labelsOf, UUID } from '../context';
import { CliError, ExitCode } from '../errors';
import { instantArg } from '../instant';

const COLUMNS = ['id', 'name', 'owner', 'status', 'generation', 'scopes', 'expiresAt', 'nextRotationAt'];
const row = (t: TokenFieldsFragment) => ({
  ...t,
  owner: t.owner.name,
  scopes: t.scopes.map((s) => s.name),
  policy: t.rotationPolicy?.name ?? null,
});

/** `100/1m`: at most 100 per minute. Anything else is a usage error saying what is accepted. */
function rateLimitArg(value: string): { requests: number; per: string } {
  const m = /^(\d+)\/(.+)$/.exec(value.trim());
  const refuse = () =>
    new InvalidArgumentError(
      `${JSON.stringify(value)} is not a rate limit: write requests/window, such as 100/1m, 10/30s or 1000/PT1H`,
    );
  if (!m || Number(m[1]) < 1) throw refuse();
  try {
    return { requests: Number(m[1]), per: durationArg(m[2]!) };
  } catch {
    throw refuse();
  }
}

function kindArg(value: string): TokenKind {
  const kind = value.toUpperCase();
  if (kind !== 'CONTROL' && kind !== 'DATA')
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a token kind: CONTROL or DATA`);
  return kind;
}

/** A token by id, or by its exact name among the live tokens the caller may see. */
const tokenRef = (ctx: Ctx, ref: string) => (UUID.test(ref) ? ref : tokenIdByName(ctx, ref));

/** An owner by id or by name. */
export async function ownerIdOf(ctx: Ctx, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  // One's own name needs no OWNER_READ (a developer has none).
  const { viewer } = await ctx.client.request(ViewerDocument);
  if (viewer.name === ref) return viewer.id;
  for await (const o of ctx.client.pages(
    async (after) => (await ctx.client.request(OwnersDocument, { first: 100, after })).owners,
  )) {
    if (o.name === ref) return o.id;
  }
  throw new CliError(`no owner named ${JSON.stringify(ref)}`, ExitCode.NOT_FOUND);
}

/** A live token by its exact name; refused when none or several match (say which owner's, by id). */
async function tokenIdByName(ctx: Ctx, name: string): Promise<string> {
  const { tokens } = await matching(ctx, { search: name, status: ['ACTIVE', 'SUSPENDED'] }, 1_000);
  const exact = tokens.filter((t) => t.name === name);
  if (exact.length === 1) return exact[0]!.id;
  if (exact.length === 0) throw new CliError(`no live token named ${JSON.stringify(name)}`, ExitCode.NOT_FOUND);
  throw new CliError(
    `${exact.length} live tokens are named ${JSON.stringify(name)} (owners ${exact.map((t) => t.owner.name).join(', ')}): give the id`,
    ExitCode.USAGE,
  );
}

async function policyIdOf(ctx: Ctx, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  const { rotationPolicies } = await ctx.client.request(PoliciesDocument);
  const p = rotationPolicies.find((x) => x.name.toLowerCase() === ref.toLowerCase());
  if (!p) throw new CliError(`no rotation policy named ${JSON.stringify(ref)}`, ExitCode.NOT_FOUND);
  return p.id;
}

interface FilterOptions {
  owner?: string;
  status?: string[];
  label?: string[];
  scope?: string;
  search?: string;
}

async function filterOf(ctx: Ctx, o: FilterOptions): Promise<TokenFilter> {
  return {
    ownerId: o.owner ? await ownerIdOf(ctx, o.owner) : undefined,
    status: o.status?.map((s) => s.toUpperCase() as TokenStatus),
    labels: labelsOf(o.label),
    scope: o.scope,
    search: o.search,
  };
}

/** Up to `limit` tokens matching the filter, and how many match in all. */
async function matching(
  ctx: Ctx,
  filter: TokenFilter,
  limit: number,
  newestFirst = false,
): Promise<{ tokens: TokenFieldsFragment[]; total: number }> {
  const out: TokenFieldsFragment[] = [];
  let total = 0;
  const page = async (after: string | null) => {
    const { tokens } = await ctx.client.request(TokensDocument, {
      filter,
      first: Math.min(100, limit - out.length) || 1,
      after,
      newestFirst,
    });
    total = tokens.totalCount;
    return tokens;
  };
  for await (const t of ctx.client.pages(page)) {
    out.push(t);
    if (out.length >= limit) break;
  }
  return { tokens: out, total };
}

/** A token with its new secret: the one time the secret is shown. */
function printIssued(ctx: Ctx, issued: { secret: string; token: TokenFieldsFragment }): void {
  ctx.out.result(issued, () => {
    ctx.out.record(row(issued.token));
    ctx.out.line(`secret:  ${issued.secret}`);
    ctx.out.note('The secret is shown once: store it now.');
  });
}

export function tokensCommand(program: Command): void {
  const tokens = program.command('tokens').description('list, show, issue, rotate and revoke tokens');

  tokens
    .command('list')
    .description('list tokens, newest first')
    .option('--owner <id|name>', 'only this owner’s tokens')
    .option('--status <status>', 'ACTIVE, SUSPENDED, EXPIRED or REVOKED (repeatable)', collect)
    .option('--label <key=value>', 'only tokens with this label (repeatable)', collect)
    .option('--scope <scope>', 'only tokens carrying this scope')
    .option('--search <text>', 'name contains')
    .option('--limit <n>', 'at most this many', countArg, 500)
    .addHelpText(
      'after',
      '\nExamples:\n  $ latchkey tokens list --owner homepage-dashboard --status ACTIVE\n  $ latchkey tokens list --label widget=sales --output json',
    )
    .action(async (o: FilterOptions & { limit: number }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { tokens: list, total } = await matching(ctx, await filterOf(ctx, o), o.limit, true);
      ctx.out.result(list, () => {
        ctx.out.table(list.map(row), COLUMNS);
        if (list.length < total) ctx.out.note(`showing ${list.length} of ${total}, newest first (--limit to see more)`);
      });
    });

  tokens
    .command('show <id|name>')
    .description('one token with its secrets (hints only) and usage; by name among the live tokens you may see')
    .addHelpText(
      'after',
      '\nExamples:\n  $ latchkey tokens show 01936f3e-7c1a-7000-8000-000000000000\n  $ latchkey tokens show sales-overview',
    )
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const id = await tokenRef(ctx, ref);
      const { token } = await ctx.client.request(TokenDocument, { id });
      if (!token) throw new CliError(`token ${JSON.stringify(id)} not found`, ExitCode.NOT_FOUND);
      ctx.out.result(token, () => {
        const { secrets, ...rest } = token;
        ctx.out.record(row(rest as TokenFieldsFragment));
        ctx.out.line();
        ctx.out.table(secrets, ['generation', 'hint', 'state', 'graceEndsAt', 'createdAt']);
      });
    });

  tokens
    .command('issue')
    .description('issue a token; its secret is printed once and never again')
    .requiredOption('--owner <id|name>', 'whose token it is')
    .requiredOption('--name <name>', 'a name people will recognise')
    .option('--scope <scope>', 'a scope it carries (repeatable; none: it can call Latchkey itself)', collect)
    .option('--label <key=value>', 'a label (repeatable)', collect)
    .option('--policy <id|name>', 'a rotation policy')
    .option(
      '--kind <kind>',
      'CONTROL (calls Latchkey itself, reads granted credentials) or DATA (reaches the APIs its scopes allow); default: CONTROL without --scope, DATA with',
      kindArg,
    )
    .option(
      '--expires-at <date>',
      'an expiry: 2027-03-31 (midnight UTC) or 2027-03-31T18:00:00+02:00 (a policy may cap it)',
      instantArg,
    )
    .option('--description <text>')
    .addHelpText(
      'after',
      '\nExample:\n  $ latchkey tokens issue --owner homepage-dashboard --name sales-widget --scope crm:sales.summary:read --policy widgets',
    )
    .action(
      async (
        o: {
          owner: string;
          name: string;
          scope?: string[];
          label?: string[];
          policy?: string;
          kind?: TokenKind;
          expiresAt?: string;
          description?: string;
        },
        cmd: Command,
      ) => {
        const ctx = contextOf(cmd);
        const input = {
          ownerId: await ownerIdOf(ctx, o.owner),
          name: o.name,
          scopes: o.scope ?? [],
          kind: o.kind,
          labels: labelsOf(o.label),
          rotationPolicyId: o.policy ? await policyIdOf(ctx, o.policy) : undefined,
          expiresAt: o.expiresAt,
          description: o.description,
        };
        printIssued(ctx, (await ctx.client.request(IssueTokenDocument, { input })).issueToken);
      },
    );

  tokens
    .command('rotate <id|name>')
    .description('rotate now; the old secret keeps working for the grace period')
    .option('--grace <duration>', 'grace for the old secret, e.g. 1h or PT1H (default: the policy’s)', durationArg)
    .addHelpText(
      'after',
      '\nExamples:\n  $ latchkey tokens rotate 01936f3e-7c1a-7000-8000-000000000000 --grace PT30M\n  $ latchkey tokens rotate sales-widget --grace 30m',
    )
    .action(async (ref: string, o: { grace?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      printIssued(
        ctx,
        (await ctx.client.request(RotateTokenDocument, { id: await tokenRef(ctx, ref), gracePeriod: o.grace }))
          .rotateToken,
      );
    });

  tokens
    .command('suspend <id|name>')
    .description('disable without revoking: verification answers SUSPENDED until resumed')
    .requiredOption('--reason <text>', 'recorded in the audit log')
    .addHelpText('after', '\nExample:\n  $ latchkey tokens suspend sales-widget --reason "investigating"')
    .action(async (ref: string, o: { reason: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const t = (await ctx.client.request(SuspendTokenDocument, { id: await tokenRef(ctx, ref), reason: o.reason }))
        .suspendToken;
      ctx.out.result(t, () => ctx.out.record(row(t)));
    });

  tokens
    .command('resume <id|name>')
    .description('enable a suspended token again')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const t = (await ctx.client.request(ResumeTokenDocument, { id: await tokenRef(ctx, ref) })).resumeToken;
      ctx.out.result(t, () => ctx.out.record(row(t)));
    });

  tokens
    .command('restrict <id|name>')
    .description('set or clear the networks a token verifies from and its rate limit')
    .option('--cidr <network>', 'a network it may be used from (repeatable; replaces the list)', collect)
    .option('--any-network', 'allow every network again')
    .option('--rate-limit <n/window>', 'at most n verifications per window, e.g. 100/1m', rateLimitArg)
    .option('--no-rate-limit', "remove the token's own limit (its policy's applies)")
    .addHelpText(
      'after',
      '\nExamples:\n  $ latchkey tokens restrict 01936f3e-… --cidr 10.0.0.0/8 --cidr 192.0.2.0/24 --rate-limit 100/1m\n  $ latchkey tokens restrict 01936f3e-… --any-network',
    )
    .action(
      async (
        ref: string,
        o: { cidr?: string[]; anyNetwork?: boolean; rateLimit?: { requests: number; per: string } | false },
        cmd: Command,
      ) => {
        if (o.cidr && o.anyNetwork) throw usage('give --cidr or --any-network, not both');
        const input: { allowedCidrs?: string[] | null; rateLimit?: { requests: number; per: string } | null } = {};
        if (o.cidr) input.allowedCidrs = o.cidr;
        if (o.anyNetwork) input.allowedCidrs = null;
        if (o.rateLimit === false) input.rateLimit = null;
        else if (o.rateLimit) input.rateLimit = o.rateLimit;
        if (Object.keys(input).length === 0)
          throw usage('nothing to change: give --cidr, --any-network, --rate-limit or --no-rate-limit');
        const ctx = contextOf(cmd);
        const t = (await ctx.client.request(UpdateTokenDocument, { id: await tokenRef(ctx, ref), input })).updateToken;
        ctx.out.result(t, () => ctx.out.record(row(t)));
      },
    );

  tokens
    .command('revoke [id|name]')
    .description('revoke one token by id or name, or every live token matching a filter')
    .option('--owner <id|name>', 'tokens of this owner')
    .option('--label <key=value>', 'tokens with this label (repeatable)', collect)
    .option('--scope <scope>', 'tokens carrying this scope')
    .option('--unused-for <duration>', 'tokens not used for this long, e.g. 90d or P90D', durationArg)
    .option('--reason <text>', 'recorded in the audit log', 'revoked with the latchkey command line')
    .option('--dry-run', 'list what would be revoked and change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText(
      'after',
      '\nExamples:\n  $ latchkey tokens revoke 01936f3e-7c1a-7000-8000-000000000000 --reason leaked\n  $ latchkey tokens revoke --owner homepage-dashboard --dry-run\n  $ latchkey tokens revoke --unused-for P90D --label team=growth --yes',
    )
    .action(
      async (
        ref: string | undefined,
        o: {
          owner?: string;
          label?: string[];
          scope?: string;
          unusedFor?: string;
          reason: string;
          dryRun?: boolean;
          yes?: boolean;
        },
        cmd: Command,
      ) => {
        const ctx = contextOf(cmd);
        const hasFilter = !!(o.owner || o.label?.length || o.scope || o.unusedFor);
        if (ref && hasFilter) throw usage('give a token (id or name) or a filter, not both');
        if (!ref && !hasFilter)
          throw usage('give a token (id or name) or a filter (--owner, --label, --scope, --unused-for)');
        let targets: TokenFieldsFragment[];
        if (ref) {
          const id = await tokenRef(ctx, ref);
          const { token } = await ctx.client.request(TokenDocument, { id });
          if (!token) throw new CliError(`token ${JSON.stringify(id)} not found`, ExitCode.NOT_FOUND);
          targets = [token];
        } else {
          targets = (
            await matching(
              ctx,
              {
                ...(await filterOf(ctx, { owner: o.owner, label: o.label, scope: o.scope })),
                status: ['ACTIVE', 'SUSPENDED'],
              },
              100_000,
            )
          ).tokens;
          if (o.unusedFor) {
            const dormant = new Set<string>();
            for await (const t of ctx.client.pages(
              async (after) =>
                (await ctx.client.request(DormantTokensDocument, { unusedFor: o.unusedFor!, first: 100, after }))
                  .dormantTokens,
            ))
              dormant.add(t.id);
            targets = targets.filter((t) => dormant.has(t.id));
          }
        }
        if (o.dryRun) {
          ctx.out.result({ dryRun: true, wouldRevoke: targets }, () => {
            ctx.out.table(targets.map(row), COLUMNS);
            ctx.out.note(`${targets.length} token(s) would be revoked (dry run: nothing changed)`);
          });
          return;
        }
        if (targets.length === 0) {
          ctx.out.result({ revoked: [] }, () => ctx.out.note('no live token matches: nothing to revoke'));
          return;
        }
        if (!o.yes && !(await confirm(`Revoke ${targets.length} token(s)? This cannot be undone.`, 'revoke'))) {
          ctx.out.note('nothing revoked');
          return;
        }
        // The exact tokens listed, one by one: a token issued meanwhile is not swept up unseen.
        const bar = ctx.out.progress(targets.length, 'revoking');
        const revoked: TokenFieldsFragment[] = [];
        for (const t of targets) {
          revoked.push((await ctx.client.request(RevokeTokenDocument, { id: t.id, reason: o.reason })).revokeToken);
          bar.tick();
        }
        bar.done();
        ctx.out.result({ revoked }, () => ctx.out.note(`revoked ${revoked.length} token(s)`));
      },
    );
}
