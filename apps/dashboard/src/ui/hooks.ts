import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client.js';

export type Resource<T> = { status: 'loading'; data?: T } | { status: 'error'; error: ApiError; data?: T } | { status: 'ready'; data: T };

/**
 * Loads `load()` whenever `deps` change; `retry` loads again. An older answer arriving after a
 * newer request is dropped. Errors keep their problem (its `detail` is what the page shows).
 */
export function useResource<T>(load: () => Promise<T>, deps: readonly unknown[]): Resource<T> & { retry: () => void; reload: () => void } {
  const [state, setState] = useState<Resource<T>>({ status: 'loading' });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ status: 'loading', ...(s.data !== undefined ? { data: s.data } : {}) }));
    load().then(
      (data) => mine === seq.current && setState({ status: 'ready', data }),
      (e: unknown) => mine === seq.current && setState({ status: 'error', error: toApiError(e) }),
    );
  }, [...deps, tick]);
  const retry = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, retry, reload: retry };
}

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError({ title: 'Error', status: 0, code: 'client_error', detail: e instanceof Error ? e.message : String(e) });
}

/** Runs an action (a write), tracking its pending state and its error. */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>): { run: (...args: A) => Promise<R | undefined>; pending: boolean; error: ApiError | null; clear: () => void } {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = async (...args: A): Promise<R | undefined> => {
    setPending(true);
    setError(null);
    try {
      return await fn(...args);
    } catch (e) {
      setError(toApiError(e));
      return undefined;
    } finally {
      setPending(false);
    }
  };
  return { run, pending, error, clear: () => setError(null) };
}
