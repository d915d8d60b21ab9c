import type { ClientRegistry } from '../registry/registry.js'
import type { FeedSink, WebhookFeed } from './sender.js'

/** The feed of one process: its registry's changes, numbered here; the queue lives in the process. */
export class MemoryWebhookFeed implements WebhookFeed {
  readonly lastTryAtClose = true
  private seq = 0

  constructor (private readonly registry: ClientRegistry) {}

  start (sink: FeedSink): void {
    this.registry.onChange((change) => { sink.push(change, ++this.seq) })
  }

  async commit (): Promise<void> {}

  async close (): Promise<void> {}
}
