// Credentials, rotators and rotations of one tenant, driven through the API as a person would, and
// a few loopback servers the rotator tests aim at.
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { expect } from 'vitest';
import type { GqlResponse, TestApi } from './api';
import { unique } from './fixtures';
import { CreateCredentialDocument, GrantCredentialDocument, RevealCredentialDocument } from '../generated/graphql';

export const SET_ROTATOR = `mutation($n: String!, $i: SetCredentialRotatorInput!) { setCredentialRotator(name: $n, input: $i) { signingSecret credential { nextRotationAt } } }`;
const STATE = `query($n: String!) { credential(name: $n) { rotator rotations { id state step failure pendingVersion } versions { edges { node { version state } } } } }`;

export interface Rotations {
  /** A new credential holding `value`, which `ownerId` (the tenant's admin unless said) is granted to read. */
  credential(value: string, ownerId?: string): Promise<string>;
  setRotator(name: string, input: Record<string, unknown>): Promise<GqlResponse>;
  addVersion(name: string, value: string): Promise<void>;
  latest(name: string): Promise<any>;
  /** Waits until the latest rotation of `name` is in `state`; returns the credential then. */
  until(name: string, state: string, timeout?: number): Promise<any>;
  reveal(name: string): Promise<{ version: number; value: string }>;
}

export function rotationsOf(api: TestApi, token: string, adminId: string): Rotations {
  // With its newest versions as a list.
  const latest = async (name: string) => {
    const { credential } = await api.ok(token, STATE, { n: name });
    return { ...credential, versions: credential.versions.edges.map((e: { node: unknown }) => e.node) };
  };
  return {
    async credential(value, ownerId = adminId) {
      const name = unique('cred').toLowerCase();
      await api.ok(token, CreateCredentialDocument, { input: { name, value } });
      await api.ok(token, GrantCredentialDocument, { name, ownerId });
      return name;
    },
    setRotator: (name, input) => api.gql(token, SET_ROTATOR, { n: name, i: input }),
    async addVersion(name, value) {
      await api.ok(
        token,
        `mutation($n: String!, $v: String!) { addCredentialVersion(input: { name: $n, value: $v, gracePeriod: "PT0S" }) { version } }`,
        { n: name, v: value },
      );
    },
    latest,
    async until(name, state, timeout = 20_000) {
      await expect.poll(async () => (await latest(name)).rotations[0]?.state, { timeout, interval: 100 }).toBe(state);
      return latest(name);
    },
    async reveal(name) {
      return (await api.ok(token, RevealCredentialDocument, { name })).revealCredential;
    },
  };
}

export interface Listener {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  close(): Promise<void>;
}

/** A TCP listener on a loopback address that accepts connections and then, unless `onSocket` says otherwise, never answers. */
export async function listener(host = '127.0.0.1', onSocket: (s: Socket) => void = () => undefined): Promise<Listener> {
  const sockets = new Set<Socket>();
  const l: Listener = {
    port: 0,
    accepted: 0,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  const server: Server = createServer((s) => {
    l.accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    onSocket(s);
  }).listen(0, host);
  await once(server, 'listening');
  l.port = (server.address() as { port: number }).port;
  return l;
}
