import { SetMetadata } from '@nestjs/common';

export const SHOWN_ONCE = 'yb:shown-once';

/**
 * A route whose response carries a credential shown this once only (a new API key, a webhook endpoint's secret):
 * the Idempotency-Key interceptor stores the response without these top-level fields, so a replay answers the
 * same resource with the credential left out. The request still runs once: a retry never makes a second one.
 */
export const ShownOnce = (...fields: string[]): MethodDecorator => SetMetadata(SHOWN_ONCE, fields);
