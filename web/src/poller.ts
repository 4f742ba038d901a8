/**
 * One polling loop for the whole page. Each round first asks GET /health (no token needed): if the API
 * does not answer, the page is disconnected and waits longer before each new try (poll-policy.ts); if it
 * answers, the round runs the loaders of the views on screen. A hidden tab polls rarely and catches up
 * when shown; coming back online or showing the tab polls at once.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, type HealthReading, NetworkError, UnauthorizedError } from "./api.js";
import { nextPollDelay } from "./poll-policy.js";

export type Connection =
  | { state: "connecting" }
  | { state: "connected"; since: number }
  | { state: "disconnected"; since: number; error: string; failures: number; retryAt: number };

export interface PollState {
  connection: Connection;
  /** The last answer of /health, kept while disconnected (and shown as stale). */
  health: HealthReading | null;
  /** When the last round that reached the API finished. */
  lastSuccessAt: number | null;
  /** The API refused the token: why, in its words. */
  authProblem: string | null;
}

type Task = () => Promise<void>;

export class Poller {
  state: PollState = {
    connection: { state: "connecting" },
    health: null,
    lastSuccessAt: null,
    authProblem: null,
  };
  private readonly listeners = new Set<() => void>();
  private readonly tasks = new Set<Task>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private again = false;
  private failures = 0;
  private failedThisRound = false;
  private started = false;

  constructor(
    private readonly api: Api,
    private readonly hasToken: () => boolean,
  ) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.pollNow();
    });
    window.addEventListener("online", () => this.pollNow());
    this.pollNow();
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<PollState>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn();
  }

  /** Registers a view's loader: it runs now (if the API is reachable) and in every round after. */
  add(task: Task): void {
    this.tasks.add(task);
    if (this.state.connection.state === "connected" && this.canLoad()) void task();
  }

  remove(task: Task): void {
    this.tasks.delete(task);
  }

  /** A new token was given: forget the refusal and poll. */
  tokenChanged(): void {
    this.set({ authProblem: null });
    this.pollNow();
  }

  /** Failures seen by a loader: an unreachable API or a refused token concern the whole page. */
  report(err: unknown): void {
    if (err instanceof UnauthorizedError) this.set({ authProblem: err.message });
    else if (err instanceof NetworkError) this.disconnected(err.message);
  }

  pollNow(): void {
    clearTimeout(this.timer);
    if (this.running) {
      this.again = true;
      return;
    }
    void this.round();
  }

  private canLoad(): boolean {
    return this.hasToken() && this.state.authProblem === null;
  }

  private async round(): Promise<void> {
    this.running = true;
    this.failedThisRound = false;
    try {
      let health: HealthReading | undefined;
      try {
        health = await this.api.health();
      } catch (err) {
        this.disconnected(err instanceof Error ? err.message : String(err));
      }
      if (health) {
        this.failures = 0;
        const c = this.state.connection;
        this.set({
          health,
          connection: c.state === "connected" ? c : { state: "connected", since: Date.now() },
        });
        if (this.canLoad()) await Promise.all([...this.tasks].map((t) => t()));
        if (this.state.connection.state === "connected") this.set({ lastSuccessAt: Date.now() });
      }
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      void this.round();
      return;
    }
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const delay = nextPollDelay(this.failures, document.hidden);
    const c = this.state.connection;
    if (c.state === "disconnected") this.set({ connection: { ...c, retryAt: Date.now() + delay } });
    this.timer = setTimeout(() => this.pollNow(), delay);
  }

  private disconnected(error: string): void {
    // One failure per round, however many calls of the round failed.
    if (!(this.running && this.failedThisRound)) this.failures++;
    if (this.running) this.failedThisRound = true;
    const c = this.state.connection;
    const since = c.state === "disconnected" ? c.since : Date.now();
    this.set({
      connection: { state: "disconnected", since, error, failures: this.failures, retryAt: Date.now() },
    });
  }
}

/** Re-renders on every change of the poller's state. */
export function usePollState(poller: Poller): PollState {
  const [state, setState] = useState(poller.state);
  useEffect(() => {
    setState(poller.state);
    return poller.subscribe(() => setState(poller.state));
  }, [poller]);
  return state;
}

export interface Polled<T> {
  data: T | undefined;
  /** The last failure other than "unreachable" or "refused token" (those are shown page-wide). */
  error: Error | undefined;
  loadedAt: number | undefined;
  reload: () => void;
}

/**
 * Data a view shows, loaded now and on every polling round while the view is on screen.
 * `key` names what is loaded: when it changes, the old data is dropped.
 */
export function usePolled<T>(poller: Poller, key: string, load: () => Promise<T>): Polled<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: Error; loadedAt?: number }>({ key });
  const loadRef = useRef(load);
  loadRef.current = load;
  const taskRef = useRef<Task | undefined>(undefined);

  useEffect(() => {
    let alive = true;
    let inFlight = false;
    setState({ key });
    const task: Task = async () => {
      if (inFlight) return;
      inFlight = true;
      try {
        const data = await loadRef.current();
        if (alive) setState({ key, data, loadedAt: Date.now() });
      } catch (err) {
        poller.report(err);
        const shown = err instanceof NetworkError || err instanceof UnauthorizedError;
        if (alive && !shown)
          setState((s) => ({ ...s, error: err instanceof Error ? err : new Error(String(err)) }));
      } finally {
        inFlight = false;
      }
    };
    taskRef.current = task;
    poller.add(task);
    return () => {
      alive = false;
      poller.remove(task);
    };
  }, [poller, key]);

  const current = state.key === key ? state : { key };
  return {
    data: current.data,
    error: current.error,
    loadedAt: current.loadedAt,
    reload: () => void taskRef.current?.(),
  };
}
