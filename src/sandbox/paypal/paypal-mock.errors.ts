import { randomBytes } from 'node:crypto';

/** PayPal's two refusals of a request, with an issue and its description: a bad request, and a business rule. */
const REFUSALS = {
  invalid: { status: 400, name: 'INVALID_REQUEST', message: 'Request is not well-formed, syntactically incorrect, or violates schema.' },
  unprocessable: {
    status: 422,
    name: 'UNPROCESSABLE_ENTITY',
    message: 'The requested action could not be performed, semantically incorrect, or failed business validation.',
  },
} as const;

/** An error as PayPal's REST API answers it: `{name, message, debug_id, details: [{issue, description}]}`. */
export class PaypalMockError extends Error {
  constructor(
    readonly status: number,
    readonly errorName: string,
    message: string,
    readonly issue?: string,
    readonly description?: string,
    /** HATEOAS links PayPal adds to some refusals (a duplicate sender_batch_id links to the first batch). */
    readonly extraLinks: { href: string; rel: string; method: string }[] = [],
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    return {
      name: this.errorName,
      message: this.message,
      debug_id: randomBytes(7).toString('hex'),
      ...(this.issue ? { details: [{ issue: this.issue, ...(this.description ? { description: this.description } : {}) }] } : {}),
      links: [
        {
          href: `https://developer.paypal.com/docs/api/orders/v2/#error-${this.issue ?? this.errorName}`,
          rel: 'information_link',
          method: 'GET',
        },
        ...this.extraLinks,
      ],
    };
  }

  static unprocessable(issue: string, description: string): PaypalMockError {
    return PaypalMockError.refusal('unprocessable', issue, description);
  }

  static notFound(what: string): PaypalMockError {
    return new PaypalMockError(
      404,
      'RESOURCE_NOT_FOUND',
      'The specified resource does not exist.',
      'INVALID_RESOURCE_ID',
      `Specified resource ID (${what}) does not exist. Please check the resource ID and try again.`,
    );
  }

  static invalid(issue: string, description: string): PaypalMockError {
    return PaypalMockError.refusal('invalid', issue, description);
  }

  private static refusal(kind: keyof typeof REFUSALS, issue: string, description: string): PaypalMockError {
    const { status, name, message } = REFUSALS[kind];
    return new PaypalMockError(status, name, message, issue, description);
  }

  static unauthenticated(): PaypalMockError {
    return new PaypalMockError(
      401,
      'AUTHENTICATION_FAILURE',
      'Authentication failed due to invalid authentication credentials or a missing Authorization header.',
    );
  }
}

/** The OAuth endpoint answers in OAuth's own shape. */
export class PaypalOAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly errorDescription: string,
  ) {
    super(errorDescription);
  }
}
