import { ValidationError, ValidationPipe } from '@nestjs/common';
import { DomainError, FieldError } from './domain-error';

// class-validator names its constraints after the decorator; clients get stable snake_case codes.
const CONSTRAINT_CODES: Record<string, string> = {
  whitelistValidation: 'unknown_field',
  isDefined: 'required',
  isNotEmpty: 'required',
  isEmail: 'invalid_email',
  isUuid: 'invalid_uuid',
  isIn: 'not_allowed',
  isEnum: 'not_allowed',
  isInt: 'not_an_integer',
  isString: 'not_a_string',
  isBoolean: 'not_a_boolean',
  min: 'too_small',
  max: 'too_large',
  minLength: 'too_short',
  maxLength: 'too_long',
  maxCodePoints: 'too_long',
  matches: 'invalid_format',
  nestedValidation: 'invalid_object',
  isObject: 'not_an_object',
};

function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const flat: FieldError[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const constraints = Object.entries(error.constraints ?? {});
    // One item per bad field: the first failing constraint says what is wrong with it.
    if (constraints.length > 0) {
      const [name, message] = constraints[0];
      flat.push({ field, code: CONSTRAINT_CODES[name] ?? snakeCase(name), message });
    }
    if (error.children && error.children.length > 0) flat.push(...flattenValidationErrors(error.children, field));
  }
  return flat;
}

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    // Values are taken as sent: a JSON number where a decimal string is expected is refused, not coerced.
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => DomainError.validation(flattenValidationErrors(errors)),
  });
}
