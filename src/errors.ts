/**
 * Typed errors shared by the engine, the CLI and the API, so each front end maps them once
 * (CLI: one line on stderr and an exit code; API: an HTTP status).
 *
 * Messages are one sentence, no trailing period, and name what was being done to what.
 */

/** Base class: every hako error carries an exit code and an HTTP status. */
export class HakoError extends Error {
  /** Exit status the CLI uses for this error. */
  exitCode = 1;
  /** HTTP status the API uses for this error. */
  status = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad flag, argument or value given by the user. */
export class UsageError extends HakoError {
  override exitCode = 125;
  override status = 400;
}

/** The named image, container, layer or network does not exist. */
export class NotFoundError extends HakoError {
  override exitCode = 125;
  override status = 404;
}

/** The request conflicts with current state (name in use, image in use, not running). */
export class ConflictError extends HakoError {
  override exitCode = 125;
  override status = 409;
}

/** Input data (tar, manifest, Dockerfile, config) is malformed or fails verification. */
export class InvalidDataError extends HakoError {
  override exitCode = 125;
  override status = 400;
}

/** The container's command could not be started (not found, not executable). */
export class CommandError extends HakoError {
  override status = 500;
  constructor(message: string, code: 126 | 127, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = code;
  }
}
