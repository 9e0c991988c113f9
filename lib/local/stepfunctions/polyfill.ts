/**
 * `Promise.withResolvers` (ES2024) for Node 20. aws-local-stepfunctions 3.x calls it in every Task
 * state; Node gained it in 22. Installed once, only when missing, following the spec: a static method
 * that builds the capability with `this` as the constructor (so subclasses work), non-enumerable.
 */
type WithResolvers = <T>() => { promise: Promise<T>; resolve: (value: T | PromiseLike<T>) => void; reject: (reason?: unknown) => void };

export function installPromiseWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: WithResolvers };
  if (typeof P.withResolvers === 'function') return;
  Object.defineProperty(Promise, 'withResolvers', {
    value: function withResolvers<T>(this: PromiseConstructor) {
      if (typeof this !== 'function') throw new TypeError('Promise.withResolvers called on a non-constructor');
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
    writable: true,
    enumerable: false,
    configurable: true,
  });
}

installPromiseWithResolvers();
