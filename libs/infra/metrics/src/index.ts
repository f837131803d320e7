export { MetricsRegistry } from './metrics.js';
export { MetricsModule } from './metrics.module.js';
export { HistogramSeries, SeriesHistogram, type SeriesHistogramOptions } from './series-histogram.js';
