import { Injectable } from '@nestjs/common';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { Cursors } from '../common/http/cursors';
import { Page, PageQuery, pageSize, toPage } from '../common/http/pagination';
import { isTimeCursor } from '../common/http/time-cursor';
import type { TradeState } from '../trades/trade.state-machine';
import { TradeReadsRepository } from '../trades/trade-reads.repository';
import { ReputationCountersRepository } from '../users/reputation-counters.repository';
import type { ExportedRatings, RateTradeDto, RatingView, ReceivedRatingView } from './dto/ratings.dto';
import type { Rating, RatingPosition } from './rating.types';
import { RatingsRepository } from './ratings.repository';
import { Transactions } from '../database/transactions';

/** The ends a trade may be rated after: its money moved, one way or the other. */
export const RATEABLE_STATES: readonly TradeState[] = ['completed', 'refunded', 'settled_split'];

/** Rows read per query by the account export, which walks every rating with no overall limit. */
const EXPORT_PAGE = 200;

const presentRating = (r: Rating): RatingView => ({
  tradeId: r.tradeId,
  score: r.score,
  comment: r.comment,
  createdAt: r.createdAt.toISOString(),
});

// Neither the rater's id nor their name: API.md's four fields.
const presentReceived = (r: Rating): ReceivedRatingView => ({
  score: r.score,
  comment: r.comment,
  raterRole: r.raterRole,
  createdAt: r.createdAt.toISOString(),
});

const positionOf = (r: Rating) => ({ t: r.createdAt.toISOString(), id: r.id });

/**
 * Trade ratings: each party rates the other once, after the trade ended completed, refunded or settled_split.
 * The rating and the rated user's counters (`rating_sum`, `rating_count`, from which `ratingAverage` is
 * computed) commit together, under the parties' row locks taken in id order; the unique `(trade_id, rater_id)`
 * makes a second or racing rating a 409 `already_rated` that counts nothing.
 */
@Injectable()
export class RatingsService {
  constructor(
    private readonly transactions: Transactions,
    private readonly ratings: RatingsRepository,
    private readonly trades: TradeReadsRepository,
    private readonly counters: ReputationCountersRepository,
    private readonly cursors: Cursors,
  ) {}

  async rate(caller: AuthUser, tradeId: string, body: RateTradeDto): Promise<RatingView> {
    // Read without a lock: a trade's parties never change, and an ended trade's state neither.
    const trade = await this.trades.findForParty(caller.id, tradeId);
    if (!trade) throw DomainError.notFound('Trade');
    if (!RATEABLE_STATES.includes(trade.state)) {
      throw new DomainError(
        'invalid_state_transition',
        `The trade is ${trade.state}; it can be rated once it is ${RATEABLE_STATES.join(', ')}`,
        { state: trade.state },
      );
    }
    const raterRole = caller.id === trade.travelerId ? 'traveler' : 'counterparty';
    const ratedId = raterRole === 'traveler' ? trade.counterpartyId : trade.travelerId;
    const rating = await this.transactions.run(async (manager) => {
      if (!(await this.ratings.lockParties(manager, caller.id, ratedId)))
        throw new DomainError('unauthenticated', 'The account is deleted');
      const inserted = await this.ratings.insert(manager, {
        tradeId,
        raterId: caller.id,
        ratedId,
        raterRole,
        score: body.score,
        // An empty comment is no comment.
        comment: body.comment ? body.comment : null,
      });
      if (!inserted) throw new DomainError('already_rated', 'You have already rated this trade');
      await this.counters.countRating(manager, ratedId, body.score);
      return inserted;
    });
    return presentRating(rating);
  }

  /**
   * The ratings a user received, newest first (any signed-in caller; 404 for a user that does not exist). A bad
   * cursor is a 400 first, whoever the user: bad input comes before not found (API.md).
   */
  async received(userId: string, query: PageQuery): Promise<Page<ReceivedRatingView>> {
    const limit = pageSize(query);
    // One user's ratings: a cursor of another user's is not this list's.
    const cursors = this.cursors.of(`ratings:${userId}`, isTimeCursor);
    const after = query.cursor ? cursors.decode(query.cursor) : undefined;
    if (!(await this.ratings.userExists(userId))) throw DomainError.notFound('User');
    const rows = await this.ratings.received(userId, limit + 1, after && { createdAt: after.t, id: after.id });
    return toPage(rows, limit, presentReceived, positionOf, cursors);
  }

  /** Every rating the user gave and received, for the account export (each with its trade). */
  async exportOf(userId: string): Promise<ExportedRatings> {
    const given = await this.walk((after) => this.ratings.given(userId, EXPORT_PAGE, after));
    const received = await this.walk((after) => this.ratings.received(userId, EXPORT_PAGE, after));
    return {
      given: given.map(presentRating),
      received: received.map((r) => ({ tradeId: r.tradeId, ...presentReceived(r) })),
    };
  }

  private async walk(page: (after?: RatingPosition) => Promise<Rating[]>): Promise<Rating[]> {
    const all: Rating[] = [];
    for (let after: RatingPosition | undefined; ;) {
      const rows = await page(after);
      all.push(...rows);
      if (rows.length < EXPORT_PAGE) return all;
      const last = rows[rows.length - 1];
      after = { createdAt: last.createdAt.toISOString(), id: last.id };
    }
  }
}
