import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { AuthCallback } from '../auth/callback.js'
import type { WebhookSender } from '../webhooks/sender.js'
import type { Hub, HubCounters } from './hub.js'

/**
 * Default metrics left out: each scrape of them lists every libuv handle or resource of the
 * process, one per open stream, which on a hub holding 100,000 streams is a scrape that allocates
 * 100,000 objects. `sse_hub_connections` counts the streams instead.
 */
const PER_HANDLE_METRICS = ['nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources', 'nodejs_active_resources_total']

/** Seconds an authUrl call takes, up to the longest `authTimeout` worth waiting for. */
const AUTH_CALL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** Seconds, from half a millisecond (memory broker) to the 1.5 s a Redis command may take. */
const PUBLISH_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

let processRegistry: Registry | undefined

/**
 * The process's default metrics (CPU, memory, heap, event-loop lag, open files, GC), made once per
 * process and shared by every hub in it: they describe the process, and each set starts an
 * event-loop monitor and a GC observer that would otherwise add up with every hub made.
 */
function processMetrics (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
    for (const name of PER_HANDLE_METRICS) processRegistry.removeSingleMetric(name)
  }
  return processRegistry
}

/**
 * The Prometheus metrics of one hub, in a registry of their own (two hubs in one process, or an
 * app with its own prom-client metrics, never mix), after the process's default metrics. Nothing here runs per delivered frame: the
 * hub keeps plain integer counters (`Hub.counters`), read once per scrape. Per request there is
 * one map update for an error status, or one histogram observation for an accepted publish.
 */
export class HubMetrics {
  private readonly registry = new Registry()
  private readonly rejected = new Map<number, number>()
  private readonly publishDuration: Histogram
  /** The hub's counters as read at the start of the current scrape. */
  private reading: HubCounters

  constructor (private readonly hub: Hub) {
    this.reading = hub.counters()
    // From the start, so that the first scrape's event-loop lag covers the time before it.
    processMetrics()
    const registers = [this.registry]
    const read = (): HubCounters => this.reading
    const gauge = (name: string, help: string, value: (counters: HubCounters) => number): void => {
      // eslint-disable-next-line no-new -- a metric registers itself
      new Gauge({ name, help, registers, collect () { this.set(value(read())) } })
    }
    const counter = (name: string, help: string, value: (counters: HubCounters) => number): void => {
      // eslint-disable-next-line no-new -- a metric registers itself
      new Counter({ name, help, registers, collect () { this.reset(); this.inc(value(read())) } })
    }

    gauge('sse_hub_connections', 'Open SSE streams of this process: subscribers and presence watchers', (c) => c.connections)
    gauge('sse_hub_clients', 'Distinct clientIds with a subscriber stream in this process', (c) => c.clients)
    gauge('sse_hub_channels', 'Channels with a subscriber stream in this process', (c) => c.channels)
    counter('sse_hub_events_published_total', 'Events accepted by publishes to this process', (c) => c.published)
    counter('sse_hub_events_delivered_total', 'Event frames written to the streams of this process', (c) => c.delivered)
    counter('sse_hub_events_replayed_total', 'Events sent from history to resuming subscribers', (c) => c.replayed)
    counter('sse_hub_slow_client_disconnects_total', 'Streams cut because their client fell behind', (c) => c.slowDisconnects)
    // eslint-disable-next-line no-new -- a metric registers itself
    new Counter({
      name: 'sse_hub_refused_subscribes_total',
      help: 'Subscribes and presence streams turned away for now (200 with retry:), by reason',
      labelNames: ['reason'],
      registers,
      collect () {
        this.reset()
        for (const [reason, count] of Object.entries(read().refused)) this.inc({ reason }, count)
      }
    })
    const rejected = this.rejected
    // eslint-disable-next-line no-new -- a metric registers itself
    new Counter({
      name: 'sse_hub_rejected_requests_total',
      help: 'Requests to the hub\'s routes answered with an error status, by status',
      labelNames: ['status'],
      registers,
      collect () {
        this.reset()
        for (const [status, count] of rejected) this.inc({ status }, count)
      }
    })
    this.publishDuration = new Histogram({
      name: 'sse_hub_publish_duration_seconds',
      help: 'Time from the arrival of a publish to its 200, events stored by the broker',
      buckets: PUBLISH_DURATION_BUCKETS,
      registers
    })
    gauge('sse_hub_broker_up', '1 while the broker answers (always with the in-memory broker), 0 while Redis is unreachable', () => hub.status() === 'broker-down' ? 0 : 1)
  }

  /** Adds the metrics of the app's authorization callback: its calls by outcome and duration, and the questions answered without a call. */
  watchAuthCallback (callback: AuthCallback): void {
    const registers = [this.registry]
    // eslint-disable-next-line no-new -- a metric registers itself
    new Counter({
      name: 'sse_hub_auth_calls_total',
      help: 'Calls to authUrl, by outcome: allowed, refused (401/403), unavailable (slow, down, unreadable)',
      labelNames: ['outcome'],
      registers,
      collect () {
        this.reset()
        for (const [outcome, count] of Object.entries(callback.counts.calls)) this.inc({ outcome }, count)
      }
    })
    // eslint-disable-next-line no-new -- a metric registers itself
    new Counter({
      name: 'sse_hub_auth_cache_hits_total',
      help: 'Requests authorized by authUrl without a call of their own: an answer kept, or a call out for the same question',
      registers,
      collect () { this.reset(); this.inc(callback.counts.cacheHits) }
    })
    const duration = new Histogram({ name: 'sse_hub_auth_call_duration_seconds', help: 'Time authUrl took to answer, or to fail', buckets: AUTH_CALL_BUCKETS, registers })
    callback.onCall = (_outcome, seconds) => { duration.observe(seconds) }
  }

  /** Adds the metrics of the presence webhooks: requests by outcome, events dropped, and the queue (on the node that sends). */
  watchWebhooks (webhooks: WebhookSender): void {
    const registers = [this.registry]
    // eslint-disable-next-line no-new -- a metric registers itself
    new Counter({
      name: 'sse_hub_webhook_requests_total',
      help: 'Webhook requests, by outcome: delivered (2xx) or failed (any other answer, a timeout, no connection; each try)',
      labelNames: ['outcome'],
      registers,
      collect () {
        this.reset()
        this.inc({ outcome: 'delivered' }, webhooks.counts.delivered)
        this.inc({ outcome: 'failed' }, webhooks.counts.failed)
      }
    })
    // eslint-disable-next-line no-new -- a metric registers itself
    new Counter({
      name: 'sse_hub_webhook_events_dropped_total',
      help: 'Webhook events given up: retried for webhookRetryFor, pushed out of a full queue, or trimmed from Redis before they were sent',
      registers,
      collect () { this.reset(); this.inc(webhooks.counts.dropped) }
    })
    // eslint-disable-next-line no-new -- a metric registers itself
    new Gauge({ name: 'sse_hub_webhook_queued_events', help: 'Webhook events waiting or being sent by this node (0 on the nodes of a cluster that do not send)', registers, collect () { this.set(webhooks.queued) } })
    // eslint-disable-next-line no-new -- a metric registers itself
    new Gauge({
      name: 'sse_hub_webhook_oldest_event_age_seconds',
      help: 'Age of the oldest webhook event this node has not delivered yet (0 when none)',
      registers,
      collect () {
        const oldest = webhooks.oldestAt
        this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000))
      }
    })
  }

  /** The `Content-Type` of `scrape()`'s text. */
  get contentType (): string {
    return this.registry.contentType
  }

  /** Counts a request of the hub's routes answered with an error status. */
  rejectedRequest (status: number): void {
    this.rejected.set(status, (this.rejected.get(status) ?? 0) + 1)
  }

  /** Records an accepted publish that took `seconds`. */
  publishTook (seconds: number): void {
    this.publishDuration.observe(seconds)
  }

  /** The Prometheus text of the process's metrics and the hub's, the hub's counters read once for all of them. */
  async scrape (): Promise<string> {
    this.reading = this.hub.counters()
    const [own, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()])
    return process + own
  }
}
