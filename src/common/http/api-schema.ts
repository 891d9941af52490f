import { applyDecorators, Type } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiOkResponse, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

/**
 * What the OpenAPI document says about amounts and rates: decimal strings, never JSON numbers (API.md). On input the
 * money module accepts up to 2 decimals for money and 4 for rates; on output they always have exactly 2 and 4.
 */
export const DECIMAL_PATTERNS = {
  money: { input: '^[0-9]+(\\.[0-9]{1,2})?$', output: '^-?[0-9]+\\.[0-9]{2}$' },
  rate: { input: '^[0-9]+(\\.[0-9]{1,4})?$', output: '^[0-9]+\\.[0-9]{4}$' },
} as const;

export type DecimalKind = keyof typeof DECIMAL_PATTERNS;

export interface DecimalFieldOptions {
  example: string;
  description?: string;
  /** A request field (as sent) rather than a response field (always formatted). */
  input?: boolean;
  nullable?: boolean;
  required?: boolean;
}

const KIND_TEXT: Record<DecimalKind, string> = { money: 'decimal string, 2 decimals', rate: 'CNY per 1 USD, decimal string, 4 decimals' };

/** The schema of one amount or rate field. */
export function decimalSchema(kind: DecimalKind, options: DecimalFieldOptions) {
  const description = options.description ? `${options.description} (${KIND_TEXT[kind]})` : KIND_TEXT[kind];
  return {
    type: 'string' as const,
    pattern: DECIMAL_PATTERNS[kind][options.input ? 'input' : 'output'],
    example: options.example,
    description,
    ...(options.nullable ? { nullable: true } : {}),
  };
}

/** An amount of money: a decimal string (`"276.25"`). */
export function ApiMoney(options: DecimalFieldOptions): PropertyDecorator {
  const schema = decimalSchema('money', options);
  return options.required === false ? ApiPropertyOptional(schema) : ApiProperty(schema);
}

/** A rate, CNY per 1 USD: a decimal string (`"7.2400"`). */
export function ApiRate(options: DecimalFieldOptions): PropertyDecorator {
  const schema = decimalSchema('rate', options);
  return options.required === false ? ApiPropertyOptional(schema) : ApiProperty(schema);
}

const pages = new Map<string, Type<unknown>>();

/**
 * The schema of one page of a list (`{ data: Item[], nextCursor }`, API.md), named after its item (`OfferView` →
 * `OfferPage`); `extra` adds the list's own fields beside them.
 */
export function PageOf(
  item: Type<unknown>,
  extra?: { name: string; properties: Record<string, object>; required: string[] },
): Type<unknown> {
  const name = extra?.name ?? `${item.name.replace(/View$/, '')}Page`;
  const known = pages.get(name);
  if (known) return known;
  const page = { [name]: class {} }[name];
  ApiProperty({ type: item, isArray: true })(page.prototype, 'data');
  ApiProperty({ type: String, nullable: true, description: 'the cursor of the next page; null on the last one' })(
    page.prototype,
    'nextCursor',
  );
  for (const [field, schema] of Object.entries(extra?.properties ?? {})) {
    ApiProperty({ ...schema, required: extra!.required.includes(field) })(page.prototype, field);
  }
  pages.set(name, page);
  return page;
}

/** 200 with one page of `item`s. */
export function ApiPageResponse(item: Type<unknown>, description?: string, extra?: Parameters<typeof PageOf>[1]): MethodDecorator {
  return applyDecorators(ApiExtraModels(item), ApiOkResponse({ type: PageOf(item, extra), ...(description ? { description } : {}) }));
}

const variantModels = new Set<Type<unknown>>();

/** The variant schemas ApiOneOf names: the document builder registers them (a property decorator cannot). */
export function documentedVariants(): Type<unknown>[] {
  return [...variantModels];
}

/** A field whose value is one of `variants`, told apart by `property` (its values give the mapping). */
export function ApiOneOf(
  variants: Record<string, Type<unknown>>,
  property: string,
  options: { description?: string; required?: boolean; example?: unknown } = {},
) {
  Object.values(variants).forEach((variant) => variantModels.add(variant));
  const refs = Object.values(variants).map((variant) => ({ $ref: getSchemaPath(variant) }));
  const mapping = Object.fromEntries(Object.entries(variants).map(([value, variant]) => [value, getSchemaPath(variant)]));
  return applyDecorators(
    ApiProperty({
      oneOf: refs,
      discriminator: { propertyName: property, mapping },
      required: options.required ?? true,
      ...(options.description ? { description: options.description } : {}),
      ...(options.example !== undefined ? { example: options.example } : {}),
    }),
  );
}

/**
 * A JSON body whose fields exclude one another (a release has no amounts; an expiry is a date or a number of days):
 * named examples a documentation viewer offers instead of one it would build with every field.
 */
export function ApiBodyExamples(type: Type<unknown>, examples: Record<string, { summary: string; value: object }>): MethodDecorator {
  return applyDecorators(ApiExtraModels(type), ApiBody({ schema: { $ref: getSchemaPath(type) }, required: true, examples }));
}
