// Exit statuses and the one error every failure becomes (same numbers as `charla send`).
export const EXIT = { OK: 0, TASK_FAILED: 1, USAGE: 2, TIMEOUT: 3, UNREACHABLE: 4 };

/** A failure with the exit status the CLI reports it with. */
export class CharlaError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}
