import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { decimalSchema, DecimalKind } from './api-schema';

/** A list's optional filter that must be one of `values` (a state, a status, a method), documented as an enum. */
export function OptionalOneOf(values: readonly string[], description?: string): PropertyDecorator {
  return applyDecorators(ApiPropertyOptional({ enum: values, ...(description ? { description } : {}) }), IsOptional(), IsIn(values));
}

/**
 * An optional amount or rate, kept as sent: the service parses it with the money module, so a JSON number or a
 * third decimal is refused there with the field named.
 */
export function OptionalAsSent(kind: DecimalKind, options: { example: string; description?: string }): PropertyDecorator {
  return applyDecorators(ApiPropertyOptional(decimalSchema(kind, { ...options, input: true })), IsOptional());
}
