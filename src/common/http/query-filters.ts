import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';

/** A list's optional filter that must be one of `values` (a state, a status, a method), documented as an enum. */
export function OptionalOneOf(values: readonly string[], description?: string): PropertyDecorator {
  return applyDecorators(ApiPropertyOptional({ enum: values, ...(description ? { description } : {}) }), IsOptional(), IsIn(values));
}
