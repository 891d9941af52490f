export * from './domain-error';
export * from './error-codes';
export * from './foreign-error-formats';
export * from './overload';
export * from './problem';
export * from './problem-details.filter';
export * from './validation';
export * from './safe-error';
