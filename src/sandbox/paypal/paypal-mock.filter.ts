import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { PaypalMockError, PaypalOAuthError } from './paypal-mock.errors';

/** The mock's own errors leave in PayPal's shapes; anything else reaches the global filter, which knows the prefix. */
@Catch(PaypalMockError, PaypalOAuthError)
export class PaypalMockErrorFilter implements ExceptionFilter {
  catch(exception: PaypalMockError | PaypalOAuthError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const body =
      exception instanceof PaypalOAuthError ? { error: exception.error, error_description: exception.errorDescription } : exception.body();
    void reply.status(exception.status).header('content-type', 'application/json').send(body);
  }
}
