/**
 * Errors caused by the user's input. The CLI prints `message` as one line and exits with code 2;
 * anything else is a bug and is reported as such.
 */
export class InputError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    readonly field?: string,
  ) {
    const where = [
      file,
      line != null ? `line ${line}` : undefined,
      field != null ? `field ${field}` : undefined,
    ]
      .filter((s) => s != null)
      .join(', ');
    super(where ? `${where}: ${message}` : message);
    this.name = 'InputError';
  }
}

/**
 * Training produced a NaN or infinite loss or gradient (typically a learning rate far too high). Raised
 * before the bad update is applied, so the weights and the last checkpoint stay finite.
 */
export class DivergenceError extends InputError {
  constructor(what: string, step: number) {
    super(`training diverged: ${what} is not finite at step ${step}; lower the learning rate`);
    this.name = 'DivergenceError';
  }
}
