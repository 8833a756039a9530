import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { SandboxMetrics } from '../sandbox-metrics';

/** The warm pool's gauges and counters, on the service's one registry (/metrics). */
@Injectable()
export class PoolMetrics {
  private readonly takes: Counter<'image' | 'result'>;
  private source: () => { image: string; idle: number; size: number }[] = () => [];

  constructor(metrics: SandboxMetrics) {
    this.takes = new Counter({
      name: 'sandboxd_warm_pool_takes_total',
      help: 'Creates that matched a warm pool: hit (took a ready member) or miss (pool was empty).',
      labelNames: ['image', 'result'],
      registers: [metrics.registry],
    });
    // A closure, not `this`: prom-client calls collect with the gauge as `this`.
    const pools = () => this.source();
    new Gauge({
      name: 'sandboxd_warm_pool_idle',
      help: 'Ready warm-pool members by image.',
      labelNames: ['image'],
      registers: [metrics.registry],
      collect() {
        for (const pool of pools()) this.set({ image: pool.image }, pool.idle);
      },
    });
    new Gauge({
      name: 'sandboxd_warm_pool_size',
      help: 'Configured warm-pool size by image (WARM_POOL).',
      labelNames: ['image'],
      registers: [metrics.registry],
      collect() {
        for (const pool of pools()) this.set({ image: pool.image }, pool.size);
      },
    });
  }

  /** The pool registers where its numbers come from at scrape time. */
  observe(source: () => { image: string; idle: number; size: number }[]): void {
    this.source = source;
  }

  took(image: string, hit: boolean): void {
    this.takes.inc({ image, result: hit ? 'hit' : 'miss' });
  }
}
