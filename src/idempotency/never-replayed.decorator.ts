import { SetMetadata } from '@nestjs/common';

export const NEVER_REPLAYED = 'yb:never-replayed';

/**
 * A route whose every call must run (an operator's audited reveal of a payment handle): the Idempotency-Key
 * interceptor leaves it alone, so nothing of it is stored and no call is answered from storage.
 */
export const NeverReplayed = (): MethodDecorator => SetMetadata(NEVER_REPLAYED, true);
