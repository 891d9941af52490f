import { Injectable } from '@nestjs/common';
import type { Client } from 'pg';
import { PRINCIPAL_CHANNEL } from '../users/principal-changes.repository';

/** The channel triggers on `offers` and `exchange_requests` notify at the commit of any write to them. */
export const LISTINGS_CHANNEL = 'listings_changed';

/** The notifications that void cached listing pages: a listed row changed, or a maker's suspension did. */
@Injectable()
export class ListingChangesRepository {
  /** Connects `client`, a connection of its own (a pooled one would lose it), and listens on both channels. */
  async listenOn(client: Client): Promise<void> {
    await client.connect();
    await client.query(`LISTEN ${LISTINGS_CHANNEL}; LISTEN ${PRINCIPAL_CHANNEL}`);
  }
}
