import { createContext, useContext } from 'react';
import type { Me, Membership, Permission } from '../api/types.js';

export interface Session {
  me: Me;
  org: Membership;
  /** What the viewer's role grants in this organization (GET /v1/me's memberships[].permissions). */
  can: (p: Permission) => boolean;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside an organization page');
  return s;
}
