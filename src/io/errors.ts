/**
 * Errors caused by the user's input. The CLI prints `message` as one line and exits with code 2;
 * anything else is a bug and is reported as such. The message is prefixed with where the problem is:
 * `file, line N, field F: message`.
 *
 * @example
 * try {
 *   can([[0.5, 0.6]], [1, 1]);
 * } catch (e) {
 *   // e.message: 'probs: row 1 sums to 1.10000, not 1 within 0.001 (if these are logits, ...'
 *   if (e instanceof InputError) console.error(e.message);
 * }
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
 *
 * @example
 * try {
 *   await trainStep(model, optimizer, x, y, 'softmaxCrossEntropy');
 * } catch (e) {
 *   // e.message: 'training diverged: ... is not finite at step N; lower the learning rate'
 *   if (e instanceof DivergenceError) console.error(e.message);
 * }
 */
export class DivergenceError extends InputError {
  constructor(what: string, step: number) {
    super(`training diverged: ${what} is not finite at step ${step}; lower the learning rate`);
    this.name = 'DivergenceError';
  }
}
