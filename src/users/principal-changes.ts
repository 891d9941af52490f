/** The channel a trigger on `users` notifies, with the user's id, when a role, tier or suspension changes. */
export const PRINCIPAL_CHANNEL = 'principal_changed';
