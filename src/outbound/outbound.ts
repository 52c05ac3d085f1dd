// Every outbound connection Latchkey makes goes through here: webhook deliveries and webhook
// rotators over HTTP (WEBHOOK_ALLOW), built-in Postgres and Redis rotators (ROTATOR_ALLOW). Both
// follow the same address rules, refuse Latchkey's own Postgres and Redis (DATABASE_URL,
// REDIS_URL) whatever their allow list says, pin DNS and run under OUTBOUND_DEADLINE_MS; the
// workers share their slots between tenants with TenantSlots.
import { AddressRules } from './address-rules';
import { type Resolve, systemResolve } from './addresses';
import { DatabaseOutbound } from './database-outbound';
import { HttpOutbound } from './http-outbound';
import { endpointOf, PlatformEndpoints } from './platform-endpoints';

export interface OutboundSettings {
  webhookAllow: readonly string[];
  rotatorAllow: readonly string[];
  deadlineMs: number;
  /** DATABASE_URL and REDIS_URL. */
  platformUrls: readonly string[];
}

export interface Outbound {
  http: HttpOutbound;
  databases: DatabaseOutbound;
}

export function createOutbound(settings: OutboundSettings, resolve: Resolve = systemResolve): Outbound {
  const platform = new PlatformEndpoints(settings.platformUrls.map(endpointOf), resolve);
  return {
    http: new HttpOutbound(new AddressRules(settings.webhookAllow, platform, resolve), settings.deadlineMs),
    databases: new DatabaseOutbound(new AddressRules(settings.rotatorAllow, platform, resolve), settings.deadlineMs),
  };
}
