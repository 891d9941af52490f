import type { ListCursors } from '../common/http/cursors';
import { Page, PageQuery, readPage } from '../common/http/pagination';
import type { TradeView } from './dto/trades.dto';
import { presentTrade } from './trade.presenter';
import { TradePosition } from './trade-position';
import type { ListedTrade } from './trade-rows';

/**
 * A page of a trade list, newest first: `read` fetches after the cursor's trade. A list never shows a payment
 * handle (API.md): only the trade itself does, to its counterparty.
 */
export function tradesPage(
  query: PageQuery,
  cursors: ListCursors<{ t: string; id: string }>,
  read: (limit: number, after: TradePosition | undefined) => Promise<ListedTrade[]>,
): Promise<Page<TradeView>> {
  return readPage(
    query,
    cursors,
    (limit, after) => read(limit, after && { createdAt: after.t, id: after.id }),
    (trade) => presentTrade(trade),
    (trade) => ({ t: trade.position, id: trade.id }),
  );
}
