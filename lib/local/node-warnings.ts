/**
 * The AWS SDK warns once per process that its releases after January 2027 need Node.js 22. The twin
 * runs on the Node.js 20 of developer machines and CI on purpose (Lambda runs Node.js 24), so that one
 * warning is dropped; every other process warning still prints.
 */
const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof warning === 'object' ? warning.name : typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  const text = typeof warning === 'string' ? warning : warning.message;
  if (name === 'NodeVersionSupportWarning' || text.startsWith('NodeVersionSupportWarning')) return;
  emit(warning, ...rest);
}) as typeof process.emitWarning;
