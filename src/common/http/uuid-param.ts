import { Param, ParseUUIDPipe } from '@nestjs/common';
import { DomainError } from '../errors';

/** A path id that must be a UUID; anything else is a 400 naming the parameter, never a database error. */
export const UuidParam = (name = 'id') =>
  Param(
    name,
    new ParseUUIDPipe({
      exceptionFactory: () => DomainError.validation([{ field: name, code: 'invalid_uuid', message: `${name} must be a UUID` }]),
    }),
  );
