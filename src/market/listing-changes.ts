/** The channel triggers on `offers` and `exchange_requests` notify at the commit of any write to them. */
export const LISTINGS_CHANNEL = 'listings_changed';
