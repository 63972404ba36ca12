import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export interface Loadable<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Load again now (keeps the current data on screen while loading). */
  reload: () => void;
}

/**
 * Runs `load` when `key` changes, and every `everyMs` while the page is visible.
 * Errors are kept and shown by the caller, never swallowed; the last good data stays.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, key: string, everyMs?: number): Loadable<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean; key: string }>({ loading: true, key });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const ctrl = new AbortController();
    setState((s) => (s.key === key ? { ...s, loading: true } : { loading: true, key }));
    loadRef.current(ctrl.signal).then(
      (data) => !ctrl.signal.aborted && setState({ data, error: undefined, loading: false, key }),
      (error) => !ctrl.signal.aborted && (error as Error)?.name !== "AbortError" && setState((s) => ({ ...s, error, loading: false, key })),
    );
    return () => ctrl.abort();
  }, [key, tick]);

  useEffect(() => {
    if (!everyMs) return;
    const timer = setInterval(() => {
      if (document.visibilityState !== "hidden") setTick((t) => t + 1);
    }, everyMs);
    return () => clearInterval(timer);
  }, [key, everyMs]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const same = state.key === key;
  return { data: same ? state.data : undefined, error: same ? state.error : undefined, loading: state.loading || !same, reload };
}
