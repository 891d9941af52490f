import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';

/** A list's optional filter that must be one of `values` (a state, a status, a method), documented as an enum. */
export function OptionalOneOf(values: readonly string[], description?: string): PropertyDecorator {
  return applyDecorators(ApiPropertyOptional({ enum: values, ...(description ? { description } : {}) }), IsOptional(), IsIn(values));
}

/**
 * An optional amount or rate, kept as sent: the service parses it with the money module, so a JSON number or a
 * third decimal is refused there with the field named.
 */
export function OptionalAsSent(options: Pick<ApiPropertyOptions, 'example' | 'description'>): PropertyDecorator {
  return applyDecorators(ApiPropertyOptional(options), IsOptional());
}
