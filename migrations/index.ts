// Migrations in the order they run. Listed explicitly: no globs, so the compiled build and the
// TypeScript sources used by tests run exactly the same set.
import { CreateCoreSchema1764284400000 } from './1764284400000-CreateCoreSchema';
import { AddGatewayPath1764370800000 } from './1764370800000-AddGatewayPath';
import { AddEventsAndWebhooks1764457200000 } from './1764457200000-AddEventsAndWebhooks';
import { AddLifecycle1764543600000 } from './1764543600000-AddLifecycle';
import { UsageFillfactor1764630000000 } from './1764630000000-UsageFillfactor';
import { AddTokenAuthority1764716400000 } from './1764716400000-AddTokenAuthority';
import { WebhookDeliverySchedule1764802800000 } from './1764802800000-WebhookDeliverySchedule';
import { ProtectAuditHeadsAndCheckpoints1764889200000 } from './1764889200000-ProtectAuditHeadsAndCheckpoints';
import { AddManagedCredentials1764975600000 } from './1764975600000-AddManagedCredentials';
import { AddWebhookRead1765062000000 } from './1765062000000-AddWebhookRead';
import { AddCredentialAdmin1765148400000 } from './1765148400000-AddCredentialAdmin';

export const migrations = [
  CreateCoreSchema1764284400000,
  AddGatewayPath1764370800000,
  AddEventsAndWebhooks1764457200000,
  AddLifecycle1764543600000,
  UsageFillfactor1764630000000,
  AddTokenAuthority1764716400000,
  WebhookDeliverySchedule1764802800000,
  ProtectAuditHeadsAndCheckpoints1764889200000,
  AddManagedCredentials1764975600000,
  AddWebhookRead1765062000000,
  AddCredentialAdmin1765148400000,
];
