/**
 * The watch side of the simulated API server: one global log of committed changes with a bounded
 * history window, and the open watches that receive them on virtual time.
 *
 * Every commit appends exactly one entry, so the log holds consecutive resourceVersions and the
 * entry for a version is found by index. Each watch has its own queue; a queued event is due
 * `watchDelayMs` after its commit and a single timer per watch delivers what is due, in commit
 * order. Objects in the log are the server's stored snapshots, which are never modified in place;
 * each watch receives its own copy, unless it was opened to share them (they are deep-frozen).
 *
 * @module
 */

import { ApiError, type WatchEvent, type WatchHandle, type WatchOptions } from "../core/cluster.ts";
import type { Clock, Timer } from "../core/clock.ts";
import type { KubeObject } from "../core/object.ts";
import { deepClone } from "./_json.ts";
import { matchesLabels } from "./_store_helpers.ts";

/** The kind of a committed change. */
export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

/** One committed change, as the log keeps it. */
export interface LoggedChange {
  rv: number;
  type: ChangeType;
  typeKey: string;
  namespace: string;
  object: KubeObject;
  /** The state before the change, for label-selector watches. */
  old?: KubeObject | undefined;
}

/** Identifies an open watch to delivery hooks. */
export interface SimWatchInfo {
  /** A number unique to this watch within the server. */
  id: number;
  /** `apiVersion/kind` of the watched type. */
  typeKey: string;
  /** The namespace filter, absent for all namespaces. */
  namespace?: string;
}

/** Decides whether an event reaches a watch; a fault layer returns false to drop it. */
export type DeliveryFilter = (watch: SimWatchInfo, event: WatchEvent) => boolean;

/** Timing and size of the watch machinery. */
export interface WatchHubOptions {
  watchDelayMs: number;
  historyEvents: number;
  bookmarkIntervalMs: number;
}

type Queued =
  | { dueMs: number; type: ChangeType; object: KubeObject }
  | { dueMs: number; type: "BOOKMARK"; rv: number };

interface Watcher {
  info: SimWatchInfo;
  options: WatchOptions;
  queue: Queued[];
  head: number;
  timer: Timer | undefined;
  stopped: boolean;
  lastSentMs: number;
  /** Deliver the logged (deep-frozen) objects themselves instead of copies. */
  share: boolean;
}

/** The event log and the open watches of one simulated API server. */
export class WatchHub {
  readonly #clock: Clock;
  readonly #options: WatchHubOptions;
  readonly #filter: () => DeliveryFilter | undefined;
  #log: LoggedChange[] = [];
  #byType = new Map<string, Set<Watcher>>();
  #bookmarking = new Set<Watcher>();
  #nextId = 1;

  constructor(clock: Clock, options: WatchHubOptions, filter: () => DeliveryFilter | undefined) {
    this.#clock = clock;
    this.#options = options;
    this.#filter = filter;
  }

  /** How many watches are open. */
  get openWatches(): number {
    let count = 0;
    for (const set of this.#byType.values()) count += set.size;
    return count;
  }

  /** The oldest resourceVersion a watch may start from without 410 Gone. */
  oldestWatchableRv(currentRv: number): number {
    const first = this.#log[0];
    return first === undefined ? currentRv : first.rv - 1;
  }

  /** Appends a committed change to the log and queues it for the matching watches. */
  record(change: LoggedChange): void {
    this.#log.push(change);
    if (this.#log.length >= 2 * this.#options.historyEvents) {
      this.#log = this.#log.slice(this.#log.length - this.#options.historyEvents);
    }
    const watchers = this.#byType.get(change.typeKey);
    const now = this.#clock.nowMs();
    if (watchers) {
      for (const watcher of watchers) {
        if (!matches(watcher, change)) continue;
        const type = selectedType(watcher, change);
        if (type === undefined) continue;
        watcher.lastSentMs = now;
        this.#enqueue(watcher, {
          dueMs: now + this.#options.watchDelayMs,
          type,
          object: change.object,
        });
      }
    }
    this.#maybeBookmark(change, now);
  }

  /**
   * Bookmarks ride on activity instead of a periodic timer: a watch that has heard nothing for
   * `bookmarkIntervalMs` gets one when any other change commits, so an idle cluster keeps no timer.
   */
  #maybeBookmark(change: LoggedChange, now: number): void {
    for (const watcher of this.#bookmarking) {
      if (matches(watcher, change)) continue;
      if (now - watcher.lastSentMs < this.#options.bookmarkIntervalMs) continue;
      watcher.lastSentMs = now;
      this.#enqueue(watcher, {
        dueMs: now + this.#options.watchDelayMs,
        type: "BOOKMARK",
        rv: change.rv,
      });
    }
  }

  /**
   * Opens a watch of `typeKey` after `fromRv` (already parsed; undefined means "current state
   * first"). `initial` lists the current objects of the type in order.
   */
  open(
    typeKey: string,
    options: WatchOptions,
    fromRv: number | undefined,
    currentRv: number,
    initial: () => KubeObject[],
    share = false,
  ): WatchHandle {
    const info: SimWatchInfo = { id: this.#nextId++, typeKey };
    if (options.namespace !== undefined) info.namespace = options.namespace;
    const now = this.#clock.nowMs();
    const watcher: Watcher = {
      info,
      options,
      queue: [],
      head: 0,
      timer: undefined,
      stopped: false,
      lastSentMs: now,
      share,
    };
    const handle: WatchHandle = { stop: () => this.#stop(watcher) };
    const dueMs = now + this.#options.watchDelayMs;
    const oldest = this.oldestWatchableRv(currentRv);
    if (fromRv !== undefined && fromRv < oldest) {
      // Answer 410 Gone asynchronously, as a real watch fails after the request was accepted.
      const error = new ApiError("Expired", `too old resource version: ${fromRv} (${oldest})`);
      watcher.timer = this.#clock.setTimer(this.#options.watchDelayMs, () => {
        watcher.timer = undefined;
        if (watcher.stopped) return;
        watcher.stopped = true;
        options.onDone(error);
      });
      return handle;
    }
    const selector = options.labelSelector;
    if (fromRv === undefined) {
      for (const object of initial()) {
        if (selector && !matchesLabels(object, selector)) continue;
        this.#enqueue(watcher, { dueMs, type: "ADDED", object });
      }
    } else {
      const first = this.#log[0];
      const start = first === undefined ? 0 : Math.max(0, fromRv + 1 - first.rv);
      for (let i = start; i < this.#log.length; i++) {
        const change = this.#log[i]!;
        const type = matches(watcher, change) ? selectedType(watcher, change) : undefined;
        if (type !== undefined) this.#enqueue(watcher, { dueMs, type, object: change.object });
      }
    }
    let set = this.#byType.get(typeKey);
    if (!set) this.#byType.set(typeKey, set = new Set());
    set.add(watcher);
    if (options.allowBookmarks === true) this.#bookmarking.add(watcher);
    return handle;
  }

  #stop(watcher: Watcher): void {
    watcher.stopped = true;
    watcher.timer?.cancel();
    watcher.timer = undefined;
    watcher.queue = [];
    watcher.head = 0;
    this.#byType.get(watcher.info.typeKey)?.delete(watcher);
    this.#bookmarking.delete(watcher);
  }

  #enqueue(watcher: Watcher, item: Queued): void {
    watcher.queue.push(item);
    if (watcher.timer === undefined) {
      watcher.timer = this.#clock.setTimer(
        item.dueMs - this.#clock.nowMs(),
        () => this.#flush(watcher),
      );
    }
  }

  /** Delivers every due event of one watch, in order, then waits for the next one. */
  #flush(watcher: Watcher): void {
    watcher.timer = undefined;
    const now = this.#clock.nowMs();
    const filter = this.#filter();
    while (!watcher.stopped && watcher.head < watcher.queue.length) {
      const item = watcher.queue[watcher.head]!;
      if (item.dueMs > now) break;
      watcher.head++;
      const event: WatchEvent = item.type === "BOOKMARK"
        ? { type: "BOOKMARK", resourceVersion: String(item.rv) }
        : { type: item.type, object: watcher.share ? item.object : deepClone(item.object) };
      if (filter && !filter(watcher.info, event)) continue;
      watcher.options.onEvent(event);
    }
    if (watcher.stopped) return;
    if (watcher.head >= watcher.queue.length) {
      watcher.queue = [];
      watcher.head = 0;
      return;
    }
    if (watcher.head > 1024) {
      watcher.queue = watcher.queue.slice(watcher.head);
      watcher.head = 0;
    }
    const next = watcher.queue[watcher.head]!;
    watcher.timer = this.#clock.setTimer(next.dueMs - now, () => this.#flush(watcher));
  }
}

/**
 * The event a label-selector watch sees for a change: an object that starts matching is ADDED,
 * one that stops matching is DELETED, one that never matched is not sent at all.
 */
function selectedType(watcher: Watcher, change: LoggedChange): ChangeType | undefined {
  const selector = watcher.options.labelSelector;
  if (!selector) return change.type;
  const now = matchesLabels(change.object, selector);
  if (change.type !== "MODIFIED") return now ? change.type : undefined;
  const before = change.old !== undefined && matchesLabels(change.old, selector);
  if (now) return before ? "MODIFIED" : "ADDED";
  return before ? "DELETED" : undefined;
}

function matches(watcher: Watcher, change: LoggedChange): boolean {
  if (watcher.info.typeKey !== change.typeKey) return false;
  const namespace = watcher.info.namespace;
  return namespace === undefined || namespace === change.namespace;
}
