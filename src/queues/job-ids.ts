/**
 * Every job id, built from the data in one place. The same work always gets the same id, so BullMQ (and the
 * outbox) never queue it twice; ids that should run again carry what makes them new (an event id, a state, an
 * attempt, a time). Tests and operators look jobs up by these ids: changing one is a change of behaviour.
 */

/** A trade's funding window closes. */
export function fundingDeadlineJobId(tradeId: string): string {
  return `deadline-${tradeId}-funding`;
}

/** A funded trade's payout window closes. */
export function payoutDeadlineJobId(tradeId: string): string {
  return `deadline-${tradeId}-payout`;
}

/** A deadline moved by a provider outage: one more delayed job for the new time, one per outage end. */
export function extendedDeadlineJobId(tradeId: string, deadline: 'funding' | 'payout', outageEndedAt: Date): string {
  return `deadline-${tradeId}-${deadline}-extended-${outageEndedAt.getTime()}`;
}

/** A recorded event handed to the sinks (streams, client webhooks), once per event. */
export function fanOutEventJobId(eventId: string): string {
  return `fan-out-${eventId}`;
}

/** An event still not fanned out, queued again by the sweep: once per sweep period (`round`), past a failed copy. */
export function fanOutEventSweepJobId(eventId: string, round: number): string {
  return `${fanOutEventJobId(eventId)}-sweep-${round}`;
}

/** A request's expiry. */
export function expireRequestJobId(requestId: string): string {
  return `expire-request-${requestId}`;
}

/** A funding check, by what caused it (`poll`, or the provider event's id). */
export function checkFundingJobId(tradeId: string, cause: string): string {
  return `check-funding-${tradeId}-${cause}`;
}

/** A settlement run, by what caused it (the state the trade entered, or the provider event's id). */
export function settleJobId(tradeId: string, cause: string): string {
  return `settle-${tradeId}-${cause}`;
}

/** An operator's settlement retry: always a new job. */
export function settleRetryJobId(tradeId: string, nonce: string): string {
  return settleJobId(tradeId, `retry-${nonce}`);
}

/** A watched outcome's poll after the end, one per watch round. */
export function watchJobId(tradeId: string, step: 'watch_payout' | 'watch_bank_return', attempt: number): string {
  return `${step.replaceAll('_', '-')}-${tradeId}-${attempt}`;
}

/** The capture of a held authorization into escrow, when the trade is disputed. */
export function disputeCaptureJobId(tradeId: string): string {
  return `dispute-capture-${tradeId}`;
}

/** The capture of a held authorization into escrow before PayPal's honour period ends. */
export function honorCaptureJobId(tradeId: string): string {
  return `honor-capture-${tradeId}`;
}

/** The return of an incoming bank transfer's suspense part, and again at each bank event about it. */
export function bankReturnJobId(transferId: string, eventId?: string): string {
  return eventId === undefined ? `bank-return-${transferId}` : `bank-return-${transferId}-${eventId}`;
}

/** An incoming bank transfer the bank told us about. */
export function bankIncomingJobId(transferId: string, eventId: string): string {
  return `bank-incoming-${transferId}-${eventId}`;
}

/** A reported WeChat transfer's verification, and again at each WeChat event about it. */
export function verifyPayoutJobId(tradeId: string, eventId?: string): string {
  return eventId === undefined ? `verify-${tradeId}` : `verify-${tradeId}-${eventId}`;
}

/** The last search before a payout window refunds, once per payout deadline. */
export function lastSearchJobId(tradeId: string, payoutBy: Date): string {
  return `last-search-${tradeId}-${payoutBy.getTime()}`;
}

/** The sweeper's spare copy of a job whose own copy is stuck in Redis. */
export function sweepCopyJobId(jobId: string): string {
  return `${jobId}-sweep`;
}

/** An operator's reconciliation run: always a new job. */
export function reconcileNowJobId(nonce: string): string {
  return `reconcile-now-${nonce}`;
}

/** A client webhook delivery: one job for all its attempts. */
export function webhookDeliveryJobId(deliveryId: string): string {
  return `webhook-delivery-${deliveryId}`;
}

/** A delivery whose job was lost, queued again by the sweep: once per attempt count it had reached. */
export function webhookDeliverySweepJobId(deliveryId: string, attempts: number): string {
  return `${webhookDeliveryJobId(deliveryId)}-sweep-${attempts}`;
}

/** Sandbox: the PayPal mock settles a payout batch. */
export function paypalPayoutSettleJobId(batchId: string): string {
  return `paypal-payout-settle-${batchId}`;
}

/** Sandbox: the PayPal mock returns an unclaimed payout item. */
export function paypalPayoutReturnJobId(itemId: string): string {
  return `paypal-payout-return-${itemId}`;
}

/** Sandbox: one copy of a PayPal mock webhook. */
export function paypalWebhookJobId(eventId: string, copy: number): string {
  return `paypal-webhook-${eventId}-${copy}`;
}

/** Sandbox: the bank mock settles a transfer or a return. */
export function bankSettleJobId(transferId: string): string {
  return `bank-settle-${transferId}`;
}

/** Sandbox: the receiving bank sends a return to a closed account back. */
export function bankBounceJobId(transferId: string): string {
  return `bank-bounce-${transferId}`;
}

/** Sandbox: one copy of a bank mock callback. */
export function bankWebhookJobId(eventId: string, copy: number): string {
  return `bank-webhook-${eventId}-${copy}`;
}

/** Sandbox: one attempt of one copy of a WeChat mock notification. */
export function wechatNotifyJobId(notificationId: string, copy: number, attempt: number): string {
  return `wechat-notify-${notificationId}-${copy}-${attempt}`;
}

/** Sandbox: the WeChat mock settles a PROCESSING transfer. */
export function wechatTransferSettleJobId(transferId: string): string {
  return `wechat-transfer-settle-${transferId}`;
}
