/**
 * The error of a user's mistake (a bad flag, file or manifest): the command line prints its message
 * in one line and exits 2. Its own module, so that a command imports it without the rest of `cli/`.
 *
 * @module
 */

/** A mistake in the user's input: the command line prints its message and exits 2. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}
