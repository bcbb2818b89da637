/**
 * The timeouts of one kind's running attempts, kept by one timer. Every attempt of a kind has the same timeout,
 * so deadlines come in the order attempts start: an insertion-ordered Map holds them oldest first and the timer
 * waits for the oldest. Per attempt that is a Map insert and delete, where a Node timer per attempt (created,
 * then cleared in an effect finalizer) cost ~1 µs of CPU in the orchestrator bench.
 * The timer is not cleared when the last attempt ends (short jobs would arm one per job again): it fires, finds
 * nothing due and stops. It is unreferenced, so it never keeps a stopping process alive.
 */
export class AttemptDeadlines<K, A> {
  private readonly running = new Map<K, { readonly deadline: number; readonly attempt: A }>()
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(private readonly timeoutMs: number, private readonly onTimeout: (attempt: A) => void) {}

  start(key: K, attempt: A): void {
    // Monotonic: a wall clock set back would put a later deadline before an earlier one.
    const deadline = performance.now() + this.timeoutMs
    this.running.set(key, { deadline, attempt })
    if (this.timer === undefined) this.arm(deadline)
  }

  /** The attempt ended (in any way); a key never started is ignored. */
  end(key: K): void {
    this.running.delete(key)
  }

  private arm(deadline: number) {
    this.timer = setTimeout(() => this.expire(), Math.max(0, deadline - performance.now())).unref()
  }

  private expire() {
    this.timer = undefined
    const now = performance.now()
    for (const [key, running] of this.running) {
      if (running.deadline > now) return this.arm(running.deadline)
      this.running.delete(key)
      this.onTimeout(running.attempt)
    }
  }
}
