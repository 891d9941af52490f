import type { IntervalHistogram, PerformanceObserver } from 'node:perf_hooks';

/*
 * The service's default metrics (prom-client) watch garbage collection with a PerformanceObserver and sample the
 * event loop with monitorEventLoopDelay. In a service process both live as long as the process. Here every test
 * file loads its own copy of the modules, but both are held by Node itself, outside the file's module registry:
 * the GC observer's callback kept the file's whole context (its metrics registry, its closed app, DataSource,
 * queues) reachable for the rest of the run, some 40 MB per file, and every file added an event-loop timer.
 * So what a test file starts on them, it stops when it ends.
 */
// The module object itself (an `import * as` would be a copy), so prom-client's own `require` sees the wrappers.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const perfHooks = require('node:perf_hooks') as typeof import('node:perf_hooks');
const observe = perfHooks.PerformanceObserver.prototype.observe;
const monitorEventLoopDelay = perfHooks.monitorEventLoopDelay;
const observers: PerformanceObserver[] = [];
const histograms: IntervalHistogram[] = [];

perfHooks.PerformanceObserver.prototype.observe = function (this: PerformanceObserver, ...args) {
  observers.push(this);
  return observe.apply(this, args);
};
perfHooks.monitorEventLoopDelay = (...args) => {
  const histogram = monitorEventLoopDelay(...args);
  histograms.push(histogram);
  return histogram;
};

afterAll(() => {
  perfHooks.PerformanceObserver.prototype.observe = observe;
  perfHooks.monitorEventLoopDelay = monitorEventLoopDelay;
  for (const observer of observers.splice(0)) observer.disconnect();
  for (const histogram of histograms.splice(0)) histogram.disable();
});
