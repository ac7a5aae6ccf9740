/** Base class of every error this project throws on purpose; `name` is what Step Functions matches on. */
export class BackfillError extends Error {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackfillError';
  }
}

/** Bad input (execution input, CLI flags, job definition): names the field and what is allowed. */
export class InvalidInputError extends BackfillError {
  public constructor(
    public readonly field: string,
    public readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${problem}`, options);
    this.name = 'InvalidInputError';
  }
}

/** A job module that cannot be loaded or does not satisfy the job contract. */
export class InvalidJobError extends BackfillError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidJobError';
  }
}

/** A work item whose body can never be processed (malformed JSON, missing or mistyped fields). */
export class MalformedWorkItemError extends BackfillError {
  public constructor(message: string) {
    super(message);
    this.name = 'MalformedWorkItemError';
  }
}

/** The whole batch failed (an exception outside any single item); the items come back, the run goes on. */
export class BatchFailedError extends BackfillError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BatchFailedError';
  }
}

/** A step that did not finish within its time limit (it is abandoned, not awaited further). */
export class TimeLimitError extends BackfillError {
  public constructor(what: string, limitMs: number) {
    super(`${what} did not finish within ${limitMs} ms`);
    this.name = 'TimeLimitError';
  }
}

/** A code job's process() still running at its batch's deadline; what it was given goes back (see isolatePoison). */
export class JobDeadlineError extends BatchFailedError {
  public constructor(job: string) {
    super(`job ${job} did not finish its batch before the deadline`);
    this.name = 'JobDeadlineError';
  }
}

/** Another processor holds the run's lease (a second process or execution on one run): this one refuses to start. */
export class LeaseHeldError extends BackfillError {
  public constructor(message: string) {
    super(message);
    this.name = 'LeaseHeldError';
  }
}

/** This processor's lease on the run was taken over (it stalled past the expiry): it stops rather than work on. */
export class LeaseLostError extends BackfillError {
  public constructor(message: string) {
    super(message);
    this.name = 'LeaseLostError';
  }
}

/** The database could not be reached, or its session was cut (a restart, a failover): Init is tried again later. */
export class DatabaseUnavailableError extends BackfillError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
  }
}
