import { Injectable } from '@nestjs/common';
import type { Client } from 'pg';

/** The channel a trigger on `users` notifies, with the user's id, when a role, tier or suspension changes. */
export const PRINCIPAL_CHANNEL = 'principal_changed';

/** The notifications of changes to who a user is (role, tier, suspension), as the principal cache hears them. */
@Injectable()
export class PrincipalChangesRepository {
  /** Connects `client`, a connection of its own (a pooled one would lose it), and listens on `principal_changed`. */
  async listenOn(client: Client): Promise<void> {
    await client.connect();
    await client.query(`LISTEN ${PRINCIPAL_CHANNEL}`);
  }
}
