// The few React declarations the hook example uses, so that it type-checks without React
// installed (React is not a dependency of this package). An app has React's own types instead.
declare module 'react' {
  export function useState<S> (initial: S | (() => S)): [S, (value: S | ((previous: S) => S)) => void]
  export function useEffect (effect: () => void | (() => void), deps?: readonly unknown[]): void
  export function useRef<T> (initial: T): { current: T }
}
