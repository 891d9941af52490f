/**
 * The provider mocks under /sandbox/<provider>/ answer errors in their provider's own format
 * (PayPal's `name`/`details`, WeChat Pay's `code`/`message`). They register a formatter for their
 * path prefix here; everything else gets problem details.
 */
export interface ForeignErrorFormat {
  prefix: string;
  format(problem: { status: number; code: string; detail: string; errors?: unknown }): {
    status: number;
    contentType: string;
    body: unknown;
  };
}

const formats: ForeignErrorFormat[] = [];

export function registerForeignErrorFormat(format: ForeignErrorFormat): void {
  if (!formats.some((f) => f.prefix === format.prefix)) formats.push(format);
}

export function foreignErrorFormatFor(path: string): ForeignErrorFormat | undefined {
  return formats.find((f) => path.startsWith(f.prefix));
}
