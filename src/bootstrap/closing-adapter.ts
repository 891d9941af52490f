import { FastifyAdapter } from '@nestjs/platform-fastify';

/**
 * A Fastify adapter whose responses end their connection once the application is closing. Fastify's close ends only
 * the connections idle at that moment; one busy then (a request in flight, such as a job's call to the sandbox's
 * mocks on this same service) is kept alive after its answer and held the close until the keep-alive timeout ran
 * out (72 s).
 */
export class ClosingFastifyAdapter extends FastifyAdapter {
  private closing = false;

  /** Called by Nest first thing in `app.close()`, before the shutdown hooks. */
  override beforeClose(): void {
    this.closing = true;
    super.beforeClose();
  }

  /** Registers the hook that asks each answer's client to close the connection once closing has begun. */
  closeConnectionsWhenClosing(): void {
    // Synchronous: it runs for every answer.
    this.getInstance().addHook('onSend', (_request, reply, payload, done) => {
      if (this.closing) void reply.header('connection', 'close');
      done(null, payload);
    });
  }
}
