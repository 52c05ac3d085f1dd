// What `plan` compares the file with: the server's scopes, policies, roles, owners, the live
// tokens that concern the file, the credentials and the webhooks, read page by page through the API.
import type { LatchkeyClient } from './client';
import {
  type CredentialFieldsFragment,
  CredentialsDocument,
  OwnersDocument,
  type OwnerFieldsFragment,
  PoliciesDocument,
  type PolicyFieldsFragment,
  RolesDocument,
  type RolesQuery,
  ScopesDocument,
  type ScopesQuery,
  type TokenFieldsFragment,
  TokensDocument,
  type WebhookFieldsFragment,
  WebhooksDocument,
} from './generated/graphql';
import { MANAGED_LABEL, type PolicyFile } from './policy-file';

const PAGE = 100;

export type Role = RolesQuery['roles'][number];
export type Scope = ScopesQuery['scopes'][number];

export interface ServerState {
  scopes: Scope[];
  policies: PolicyFieldsFragment[];
  roles: Role[];
  owners: OwnerFieldsFragment[];
  /** Live tokens of the owners in the file, and every live token apply manages. */
  tokens: TokenFieldsFragment[];
  /** Every credential, when the file declares any (reading them takes CREDENTIAL_READ). */
  credentials: CredentialFieldsFragment[];
  /** Every webhook endpoint, when the file has a webhooks section (reading them takes WEBHOOK_READ). */
  webhooks: WebhookFieldsFragment[];
}

async function all<N>(
  client: LatchkeyClient,
  page: (
    after: string | null,
  ) => Promise<{ pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ node: N }> }>,
): Promise<N[]> {
  const out: N[] = [];
  for await (const n of client.pages(page)) out.push(n);
  return out;
}

export async function readServer(client: LatchkeyClient, file: PolicyFile): Promise<ServerState> {
  const [{ scopes }, { rotationPolicies }, { roles }, owners] = await Promise.all([
    client.request(ScopesDocument),
    client.request(PoliciesDocument),
    client.request(RolesDocument),
    all(client, async (after) => (await client.request(OwnersDocument, { first: PAGE, after })).owners),
  ]);
  const live = ['ACTIVE', 'SUSPENDED'] as const;
  const declared = new Set(file.owners.map((o) => o.name));
  const tokenLists = await Promise.all([
    ...owners
      .filter((o) => declared.has(o.name))
      .map((o) =>
        all(
          client,
          async (after) =>
            (await client.request(TokensDocument, { filter: { ownerId: o.id, status: [...live] }, first: PAGE, after }))
              .tokens,
        ),
      ),
    all(
      client,
      async (after) =>
        (
          await client.request(TokensDocument, {
            filter: { labels: { [MANAGED_LABEL.key]: MANAGED_LABEL.value }, status: [...live] },
            first: PAGE,
            after,
          })
        ).tokens,
    ),
  ]);
  const tokens = new Map(tokenLists.flat().map((t) => [t.id, t]));
  const credentials = file.credentials.length
    ? await all(
        client,
        async (after) => (await client.request(CredentialsDocument, { first: PAGE, after })).credentials,
      )
    : [];
  const webhooks = file.managesWebhooks ? (await client.request(WebhooksDocument)).webhooks : [];
  return { scopes, policies: rotationPolicies, roles, owners, tokens: [...tokens.values()], credentials, webhooks };
}
