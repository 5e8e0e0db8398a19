/** A configuration problem, worded for the operator; the process prints it and exits. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
