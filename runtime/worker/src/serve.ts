/**
 * Serving while adapting: one lane through the session, in which answers (run, infer and the
 * state calls) always go before background adaptation steps, and at most `maxPendingSteps` steps
 * wait. Under overload a step is dropped, never a prediction. A step never interleaves with an
 * answer (an answer mid-step would see half-updated state); an answer that arrives during a step
 * waits for that one step.
 */
import type { ServeMode, ServeOptions, ServingStats } from './protocol.js';

/** The slice of AdaptiveSession the lane drives. */
export interface Servable<F, O> {
  run(feeds: F): Promise<O>;
  infer(feeds: F): Promise<O>;
}

interface Task {
  work: () => Promise<void>;
}

export class ServingLane<F, O> {
  readonly mode: ServeMode;
  private readonly capacity: number;
  private readonly dropNewest: boolean;
  private readonly answers: Task[] = [];
  private readonly steps: Task[] = [];
  private running = false;
  private idle: (() => void)[] = [];
  private counters = { served: 0, adapted: 0, dropped: 0, failed: 0, maxQueueDepth: 0 };
  private lastStepError: string | null = null;

  /** `adapts`: false for methods without state, whose answer already is their whole step. */
  constructor(
    private readonly session: Servable<F, O>,
    options: ServeOptions = {},
    private readonly adapts = true,
  ) {
    const { mode = 'adapt-then-answer', maxPendingSteps = 2, drop = 'oldest' } = options;
    if (mode !== 'adapt-then-answer' && mode !== 'adapt-after') throw new Error(`serve.mode: expected 'adapt-then-answer' or 'adapt-after', got ${JSON.stringify(mode)}`);
    if (!Number.isInteger(maxPendingSteps) || maxPendingSteps < 1) throw new RangeError(`serve.maxPendingSteps: expected a positive integer, got ${maxPendingSteps}`);
    if (drop !== 'oldest' && drop !== 'newest') throw new Error(`serve.drop: expected 'oldest' or 'newest', got ${JSON.stringify(drop)}`);
    this.mode = mode;
    this.capacity = maxPendingSteps;
    this.dropNewest = drop === 'newest';
  }

  /** Answers a batch: adapt-then-answer runs the full step; adapt-after answers first, adapts after. */
  run(feeds: F): Promise<O> {
    if (this.mode === 'adapt-then-answer' || !this.adapts) {
      return this.answer(async () => {
        const out = await this.session.run(feeds);
        this.counters.adapted++;
        return out;
      });
    }
    return this.answer(async () => {
      const out = await this.session.infer(feeds);
      this.enqueueStep(feeds);
      return out;
    });
  }

  /** Answers from the current state without adapting. */
  infer(feeds: F): Promise<O> {
    return this.answer(() => this.session.infer(feeds));
  }

  /** Runs a state call (reset, restore, snapshot, stats) in order with the answers. */
  exclusive<T>(fn: () => T | Promise<T>, discardSteps = false): Promise<T> {
    return this.schedule(this.answers, async () => {
      if (discardSteps) {
        // Steps queued from batches before a reset or restore would adapt the new state on old data.
        this.counters.dropped += this.steps.length;
        this.steps.length = 0;
      }
      return fn();
    });
  }

  /** Resolves once no task is waiting or running. */
  flush(): Promise<void> {
    if (!this.running && this.answers.length === 0 && this.steps.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  stats(): ServingStats {
    return { mode: this.mode, ...this.counters, queueDepth: this.steps.length, capacity: this.capacity, lastStepError: this.lastStepError };
  }

  private answer(fn: () => Promise<O>): Promise<O> {
    return this.schedule(this.answers, async () => {
      const out = await fn();
      this.counters.served++;
      return out;
    });
  }

  private enqueueStep(feeds: F): void {
    const task: Task = {
      work: async () => {
        try {
          await this.session.run(feeds);
          this.counters.adapted++;
        } catch (e) {
          this.counters.failed++;
          this.lastStepError = (e as Error).message;
        }
      },
    };
    if (this.steps.length >= this.capacity) {
      this.counters.dropped++;
      if (this.dropNewest) return;
      this.steps.shift();
    }
    this.steps.push(task);
    this.counters.maxQueueDepth = Math.max(this.counters.maxQueueDepth, this.steps.length);
    this.pump();
  }

  private schedule<T>(queue: Task[], fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ work: () => fn().then(resolve, reject) });
      this.pump();
    });
  }

  private pump(): void {
    if (this.running) return;
    const answer = this.answers.shift();
    if (answer) return this.start(answer);
    if (this.steps.length) {
      // A macrotask first, so the answer that queued this step is posted before the step's
      // synchronous compute (wasm runs on this thread) starts, and answers arriving now go first.
      this.running = true;
      setTimeout(() => {
        this.running = false;
        const next = this.answers.shift() ?? this.steps.shift();
        if (next) this.start(next);
        else this.pump();
      }, 0);
      return;
    }
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private start(task: Task): void {
    this.running = true;
    void task.work().finally(() => {
      this.running = false;
      this.pump();
    });
  }
}
