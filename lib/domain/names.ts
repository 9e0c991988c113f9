/**
 * The shape of a service, environment or slot name: it is used in ARNs, DynamoDB keys and execution
 * names, so 1-40 lower-case letters, digits or "-", starting with a letter. The config schema, the
 * twin's account file and the approval function's request all check names against it.
 */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;
