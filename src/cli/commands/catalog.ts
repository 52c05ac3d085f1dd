// latchkey owners|roles|scopes|policies list|show|create|update
import type { Command } from 'commander';
import { collect, contextOf, type Ctx, durationArg } from '../context';
import { CliError, ExitCode, usage } from '../errors';
import {
  AssignRoleDocument,
  CreateOwnerDocument,
  CreatePolicyDocument,
  CreateRoleDocument,
  CreateScopeDocument,
  type OwnerFieldsFragment,
  OwnerDocument,
  type OwnerKind,
  OwnersDocument,
  PoliciesDocument,
  type PolicyFieldsFragment,
  type ReuseAction,
  RolesDocument,
  type RotationPolicyInput,
  ScopesDocument,
  UnassignRoleDocument,
  UpdateOwnerDocument,
  UpdatePolicyDocument,
  UpdateRoleDocument,
  UpdateScopeDocument,
} from '../generated/graphql';
import { ownerIdOf } from './tokens';

const ownerRow = (o: OwnerFieldsFragment) => ({
  ...o,
  allowedScopes: o.allowedScopes.map((s) => s.name),
  roles: o.roles.map((r) => r.name),
});
const policyRow = (p: PolicyFieldsFragment) => ({
  ...p,
  rateLimit: p.rateLimit ? `${p.rateLimit.requests}/${p.rateLimit.per}` : null,
});

/** Role ids by id or name, in order: one request whatever their number. */
async function roleIdsOf(ctx: Ctx, refs: string[]): Promise<string[]> {
  if (refs.length === 0) return [];
  const { roles } = await ctx.client.request(RolesDocument);
  return refs.map((ref) => {
    const r = roles.find((x) => x.id === ref || x.name.toLowerCase() === ref.toLowerCase());
    if (!r) throw new CliError(`no role ${JSON.stringify(ref)}`, ExitCode.NOT_FOUND);
    return r.id;
  });
}

async function policyOf(ctx: Ctx, ref: string): Promise<PolicyFieldsFragment> {
  const { rotationPolicies } = await ctx.client.request(PoliciesDocument);
  const p = rotationPolicies.find((x) => x.id === ref || x.name.toLowerCase() === ref.toLowerCase());
  if (!p) throw new CliError(`no rotation policy ${JSON.stringify(ref)}`, ExitCode.NOT_FOUND);
  return p;
}

const examples = (...lines: string[]) =>
  `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}`;

/** `list` prints them all; `show <ref>` the one `matches` picks. */
function listOrShow<T extends Record<string, unknown>>(
  what: string,
  load: (ctx: Ctx) => Promise<T[]>,
  matches: (x: T, ref: string) => boolean,
  columns: string[],
) {
  return async (c: Command, ref?: string) => {
    const ctx = contextOf(c);
    const all = await load(ctx);
    if (ref === undefined) return ctx.out.result(all, () => ctx.out.table(all, columns));
    const one = all.find((x) => matches(x, ref));
    if (!one) throw new CliError(`no ${what} ${JSON.stringify(ref)}`, ExitCode.NOT_FOUND);
    ctx.out.result(one, () => ctx.out.record(one));
  };
}

function owners(program: Command): void {
  const cmd = program.command('owners').description('who tokens belong to: users, teams and services');
  cmd
    .command('list')
    .description('every owner with its ceiling and roles')
    .addHelpText('after', examples('latchkey owners list', 'latchkey owners list --output json | jq -r ".[].name"'))
    .action(async (_o: unknown, c: Command) => {
      const ctx = contextOf(c);
      const list: OwnerFieldsFragment[] = [];
      for await (const o of ctx.client.pages(
        async (after) => (await ctx.client.request(OwnersDocument, { first: 100, after })).owners,
      ))
        list.push(o);
      ctx.out.result(list, () =>
        ctx.out.table(list.map(ownerRow), ['id', 'kind', 'name', 'email', 'allowedScopes', 'roles']),
      );
    });
  cmd
    .command('show <id|name>')
    .description('one owner with its ceiling and roles')
    .addHelpText('after', examples('latchkey owners show homepage-dashboard'))
    .action(async (ref: string, _o: unknown, c: Command) => {
      const ctx = contextOf(c);
      const { owner } = await ctx.client.request(OwnerDocument, { id: await ownerIdOf(ctx, ref) });
      if (!owner) throw new CliError(`owner ${JSON.stringify(ref)} not found`, ExitCode.NOT_FOUND);
      ctx.out.result(owner, () => ctx.out.record(ownerRow(owner)));
    });
  cmd
    .command('create')
    .description('a user, team or service that can own tokens')
    .requiredOption('--name <name>')
    .requiredOption('--kind <kind>', 'USER, TEAM or SERVICE')
    .option('--email <email>')
    .option('--scope <scope>', 'a scope of its ceiling (repeatable)', collect)
    .option('--role <role>', 'a role to bind (repeatable)', collect)
    .addHelpText(
      'after',
      '\nExample:\n  $ latchkey owners create --name homepage-dashboard --kind SERVICE --scope crm:sales.summary:read --role developer',
    )
    .action(
      async (o: { name: string; kind: string; email?: string; scope?: string[]; role?: string[] }, c: Command) => {
        const ctx = contextOf(c);
        const { createOwner } = await ctx.client.request(CreateOwnerDocument, {
          input: {
            name: o.name,
            kind: o.kind.toUpperCase() as OwnerKind,
            email: o.email,
            allowedScopes: o.scope ?? [],
          },
        });
        for (const roleId of await roleIdsOf(ctx, o.role ?? []))
          await ctx.client.request(AssignRoleDocument, { ownerId: createOwner.id, roleId });
        const { owner } = await ctx.client.request(OwnerDocument, { id: createOwner.id });
        ctx.out.result(owner, () => ctx.out.record(ownerRow(owner!)));
      },
    );
  cmd
    .command('update <id|name>')
    .description('rename, change the ceiling, bind or unbind roles')
    .option('--name <name>')
    .option('--email <email>')
    .option('--scope <scope>', 'the whole new ceiling (repeatable); scopes taken away leave its tokens too', collect)
    .option('--add-role <role>', 'bind a role (repeatable)', collect)
    .option('--remove-role <role>', 'unbind a role (repeatable)', collect)
    .addHelpText(
      'after',
      '\nExample:\n  $ latchkey owners update homepage-dashboard --scope crm:sales.summary:read --scope analytics:user-events:read',
    )
    .action(
      async (
        ref: string,
        o: { name?: string; email?: string; scope?: string[]; addRole?: string[]; removeRole?: string[] },
        c: Command,
      ) => {
        const ctx = contextOf(c);
        const id = await ownerIdOf(ctx, ref);
        if (o.name || o.email || o.scope)
          await ctx.client.request(UpdateOwnerDocument, {
            id,
            input: { name: o.name, email: o.email, allowedScopes: o.scope },
          });
        for (const roleId of await roleIdsOf(ctx, o.addRole ?? []))
          await ctx.client.request(AssignRoleDocument, { ownerId: id, roleId });
        for (const roleId of await roleIdsOf(ctx, o.removeRole ?? []))
          await ctx.client.request(UnassignRoleDocument, { ownerId: id, roleId });
        const { owner } = await ctx.client.request(OwnerDocument, { id });
        ctx.out.result(owner, () => ctx.out.record(ownerRow(owner!)));
      },
    );
}

function roles(program: Command): void {
  const cmd = program.command('roles').description('sets of permissions in Latchkey itself');
  const list = listOrShow(
    'role',
    async (ctx) => (await ctx.client.request(RolesDocument)).roles,
    (r, ref) => r.id === ref || r.name.toLowerCase() === ref.toLowerCase(),
    ['id', 'name', 'builtIn', 'permissions'],
  );
  cmd
    .command('list')
    .description('built-in and custom roles')
    .addHelpText('after', examples('latchkey roles list'))
    .action((_o: unknown, c: Command) => list(c));
  cmd
    .command('show <id|name>')
    .description('one role and its permissions')
    .addHelpText('after', examples('latchkey roles show operator'))
    .action((ref: string, _o: unknown, c: Command) => list(c, ref));
  cmd
    .command('create')
    .description('a custom role: a set of permissions you hold yourself')
    .requiredOption('--name <name>')
    .requiredOption('--permission <permission>', 'a permission (repeatable)', collect)
    .option('--description <text>')
    .addHelpText(
      'after',
      '\nExample:\n  $ latchkey roles create --name rotator --permission TOKEN_READ --permission TOKEN_ROTATE',
    )
    .action(async (o: { name: string; permission: string[]; description?: string }, c: Command) => {
      const ctx = contextOf(c);
      const { createRole } = await ctx.client.request(CreateRoleDocument, {
        input: { name: o.name, description: o.description, permissions: o.permission as never },
      });
      ctx.out.result(createRole, () => ctx.out.record(createRole));
    });
  cmd
    .command('update <id|name>')
    .description('change a custom role; its holders gain and lose permissions at once')
    .addHelpText(
      'after',
      examples(
        'latchkey roles update rotator --permission TOKEN_READ --permission TOKEN_ROTATE --permission TOKEN_REVOKE',
      ),
    )
    .option('--permission <permission>', 'the whole new set (repeatable)', collect)
    .option('--description <text>')
    .action(async (ref: string, o: { permission?: string[]; description?: string }, c: Command) => {
      const ctx = contextOf(c);
      const { updateRole } = await ctx.client.request(UpdateRoleDocument, {
        id: (await roleIdsOf(ctx, [ref]))[0]!,
        input: { description: o.description, permissions: o.permission as never },
      });
      ctx.out.result(updateRole, () => ctx.out.record(updateRole));
    });
}

function scopes(program: Command): void {
  const cmd = program.command('scopes').description('the scope catalogue: <service>:<resource>:<read|write>');
  const list = listOrShow(
    'scope',
    async (ctx) => (await ctx.client.request(ScopesDocument)).scopes,
    (x, ref) => x.id === ref || x.name === ref,
    ['id', 'name', 'access', 'description'],
  );
  cmd
    .command('list')
    .description('the whole catalogue')
    .addHelpText('after', examples('latchkey scopes list --output json'))
    .action((_o: unknown, c: Command) => list(c));
  cmd
    .command('show <id|name>')
    .description('one scope')
    .addHelpText('after', examples('latchkey scopes show crm:sales.summary:read'))
    .action((ref: string, _o: unknown, c: Command) => list(c, ref));
  cmd
    .command('create <name>')
    .description('add a scope to the catalogue')
    .option('--description <text>')
    .addHelpText(
      'after',
      '\nExample:\n  $ latchkey scopes create crm:sales.summary:read --description "Sales overview widget"',
    )
    .action(async (name: string, o: { description?: string }, c: Command) => {
      const ctx = contextOf(c);
      const { createScope } = await ctx.client.request(CreateScopeDocument, {
        input: { name, description: o.description },
      });
      ctx.out.result(createScope, () => ctx.out.record(createScope));
    });
  cmd
    .command('update <name>')
    .description('change a scope’s description (its name is its meaning: create a new scope instead)')
    .addHelpText(
      'after',
      examples('latchkey scopes update crm:sales.summary:read --description "Sales overview widget"'),
    )
    .requiredOption('--description <text>')
    .action(async (ref: string, o: { description: string }, c: Command) => {
      const ctx = contextOf(c);
      const { scopes: all } = await ctx.client.request(ScopesDocument);
      const s = all.find((x) => x.id === ref || x.name === ref);
      if (!s) throw new CliError(`no scope ${JSON.stringify(ref)}`, ExitCode.NOT_FOUND);
      const { updateScope } = await ctx.client.request(UpdateScopeDocument, {
        id: s.id,
        input: { description: o.description },
      });
      ctx.out.result(updateScope, () => ctx.out.record(updateScope));
    });
}

interface PolicyOptions {
  name?: string;
  rotateEvery?: string;
  grace?: string;
  expireAfter?: string;
  notifyBefore?: string[];
  onReuse?: string;
}

function policies(program: Command): void {
  const cmd = program.command('policies').description('rotation policies: rotation, grace, expiry and warnings');
  const withPolicyOptions = (c: Command) =>
    c
      .option('--rotate-every <duration>', 'scheduled rotation, e.g. 30d or P30D', durationArg)
      .option('--grace <duration>', 'how long the previous secret keeps working, e.g. 1h or PT1H', durationArg)
      .option('--expire-after <duration>', 'token lifetime from issue, e.g. 90d or P90D', durationArg)
      .option(
        '--notify-before <duration>',
        'an expiry warning (repeatable), e.g. 7d or P7D',
        (v: string, prev: string[] = []) => collect(durationArg(v), prev),
      )
      .option('--on-reuse <action>', 'NOTIFY or REVOKE');
  cmd
    .command('list')
    .description('every rotation policy')
    .addHelpText('after', examples('latchkey policies list'))
    .action(async (_o: unknown, c: Command) => {
      const ctx = contextOf(c);
      const { rotationPolicies } = await ctx.client.request(PoliciesDocument);
      ctx.out.result(rotationPolicies, () =>
        ctx.out.table(rotationPolicies.map(policyRow), [
          'id',
          'name',
          'rotateEvery',
          'gracePeriod',
          'expireAfter',
          'notifyBefore',
          'onReuse',
          'rateLimit',
        ]),
      );
    });
  cmd
    .command('show <id|name>')
    .description('one rotation policy')
    .addHelpText('after', examples('latchkey policies show dashboard-widgets'))
    .action(async (ref: string, _o: unknown, c: Command) => {
      const ctx = contextOf(c);
      const p = await policyOf(ctx, ref);
      ctx.out.result(p, () => ctx.out.record(policyRow(p)));
    });
  withPolicyOptions(cmd.command('create').description('a rotation policy').requiredOption('--name <name>'))
    .addHelpText(
      'after',
      '\nExample:\n  $ latchkey policies create --name widgets --rotate-every P30D --grace PT1H --expire-after P90D --notify-before P7D',
    )
    .action(async (o: PolicyOptions, c: Command) => {
      const ctx = contextOf(c);
      if (!o.grace) throw usage('--grace is required');
      const input: RotationPolicyInput = {
        name: o.name!,
        rotateEvery: o.rotateEvery,
        gracePeriod: o.grace,
        expireAfter: o.expireAfter,
        notifyBefore: o.notifyBefore,
        onReuse: o.onReuse?.toUpperCase() as ReuseAction,
      };
      const { createRotationPolicy } = await ctx.client.request(CreatePolicyDocument, { input });
      ctx.out.result(createRotationPolicy, () => ctx.out.record(policyRow(createRotationPolicy)));
    });
  withPolicyOptions(
    cmd
      .command('update <id|name>')
      .description('change a policy; its tokens are re-planned at once')
      .option('--name <name>', 'rename'),
  )
    .option('--dry-run', 'show how scheduled actions would move, change nothing')
    .option('--within <duration>', 'the window the impact looks at, e.g. 30d', durationArg, 'P30D')
    .addHelpText('after', '\nExample:\n  $ latchkey policies update widgets --rotate-every P14D --dry-run')
    .action(async (ref: string, o: PolicyOptions & { dryRun?: boolean; within: string }, c: Command) => {
      const ctx = contextOf(c);
      const p = await policyOf(ctx, ref);
      // Unset options keep their current value: the API takes the whole policy.
      const input: RotationPolicyInput = {
        name: o.name ?? p.name,
        rotateEvery: o.rotateEvery ?? p.rotateEvery,
        gracePeriod: o.grace ?? p.gracePeriod,
        expireAfter: o.expireAfter ?? p.expireAfter,
        notifyBefore: o.notifyBefore ?? p.notifyBefore,
        rateLimit: p.rateLimit,
        onReuse: (o.onReuse?.toUpperCase() as ReuseAction | undefined) ?? p.onReuse,
      };
      const { updateRotationPolicy } = await ctx.client.request(UpdatePolicyDocument, {
        id: p.id,
        input,
        dryRun: !!o.dryRun,
        within: o.within,
      });
      ctx.out.result(updateRotationPolicy, () => {
        const { planImpact, ...policy } = updateRotationPolicy;
        ctx.out.record(policyRow(policy as PolicyFieldsFragment));
        if (planImpact) {
          ctx.out.line();
          ctx.out.line(
            `${o.dryRun ? 'would change' : 'changed'} within ${planImpact.within}: ${planImpact.addedCount} action(s) added, ${planImpact.removedCount} removed, on ${planImpact.affectedTokens} of ${planImpact.tokens} token(s)`,
          );
          ctx.out.table(
            [
              ...planImpact.added.map((a) => ({ change: '+', ...a, token: a.token.name })),
              ...planImpact.removed.map((a) => ({ change: '-', ...a, token: a.token.name })),
            ],
            ['change', 'at', 'kind', 'token', 'generation', 'notifyBefore'],
          );
        }
        if (o.dryRun) ctx.out.note('dry run: nothing changed');
      });
    });
}

export function catalogCommands(program: Command): void {
  owners(program);
  roles(program);
  scopes(program);
  policies(program);
}
