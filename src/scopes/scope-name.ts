// Scope names: <service>:<resource>:<read|write>, for example crm:sales.summary:read.
import { ScopeAccess } from './scope.entity';

export const SCOPE_NAME = /^[a-z][a-z0-9-]*:[a-z0-9][a-z0-9._-]*:(read|write)$/;

export function isScopeName(name: string): boolean {
  return name.length <= 200 && SCOPE_NAME.test(name);
}

export function scopeAccess(name: string): ScopeAccess {
  return name.endsWith(':write') ? ScopeAccess.WRITE : ScopeAccess.READ;
}
