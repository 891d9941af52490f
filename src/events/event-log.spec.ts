import type { EntityManager } from 'typeorm';
import { OutboxService } from '../outbox/outbox.service';
import type { OutboxRepository } from '../outbox/outbox.repository';
import { EventLog } from './event-log';
import type { EventsRepository, NewEvent } from './events.repository';
import type { NewOutboxRow } from '../outbox/outbox.repository';

describe('EventLog.record', () => {
  const inserted: [NewEvent, NewOutboxRow][] = [];
  const events = {
    insert: async (_m: EntityManager, event: NewEvent, row: NewOutboxRow) => void inserted.push([event, row]),
  } as unknown as EventsRepository;
  const log = new EventLog(
    events,
    new OutboxService({} as OutboxRepository, { outboxPublishAfterCommit: true, outboxAfterCommitLeaseMs: 10000 }),
  );
  const recipients = [{ userId: 'u1', role: 'traveler' as const }];

  it('refuses to record outside a transaction: an event commits with its change or not at all', async () => {
    const outside = { queryRunner: undefined } as unknown as EntityManager;
    await expect(log.record(outside, { type: 'trade.funded', tradeId: 't1', data: {}, recipients })).rejects.toThrow(
      /inside the transaction/,
    );
    expect(inserted).toEqual([]);
  });

  it('writes the event with the outbox row of its fan-out, whose job id is the event’s', async () => {
    const inside = { queryRunner: { isTransactionActive: true } } as unknown as EntityManager;
    const id = await log.record(inside, { type: 'trade.funded', tradeId: 't1', data: { trade: { id: 't1' } }, recipients });
    expect(inserted).toEqual([
      [
        { id, type: 'trade.funded', tradeId: 't1', disputeId: null, messageId: null, data: { trade: { id: 't1' } }, recipients },
        expect.objectContaining({ queue: 'events', jobName: 'fan-out-event', jobId: `fan-out-${id}`, payload: { eventId: id } }),
      ],
    ]);
  });
});
