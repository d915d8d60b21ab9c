import { webhookSignature } from './signature.js'

/** ms a webhook request may take, its answer included. */
export const WEBHOOK_TIMEOUT = 10_000

/** What came of one webhook request. */
export type DeliveryOutcome = { ok: true } | { ok: false, reason: string }

/**
 * POSTs one batch to the receiver, signed at the time of the request. Connections are kept alive
 * between requests; redirects are not followed; the answer's body is not read. Anything but a
 * `2xx` within `timeout` ms is a failure, naming why; `stop` aborts the request.
 */
export async function deliver (url: string, secret: string, body: string, userAgent: string, timeout = WEBHOOK_TIMEOUT, stop?: AbortSignal): Promise<DeliveryOutcome> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': userAgent,
        'x-sse-hub-signature': webhookSignature(secret, Math.floor(Date.now() / 1000), body)
      },
      body,
      redirect: 'manual',
      signal: stop === undefined ? AbortSignal.timeout(timeout) : AbortSignal.any([stop, AbortSignal.timeout(timeout)])
    })
    await response.body?.cancel()
    return response.status >= 200 && response.status < 300 ? { ok: true } : { ok: false, reason: `the receiver answered ${response.status}` }
  } catch (err) {
    const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${timeout} ms` : describe(err as Error)
    return { ok: false, reason }
  }
}

/** fetch's `TypeError: fetch failed` says why in its cause (ECONNREFUSED, ...). */
function describe (err: Error): string {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  return cause?.code ?? cause?.message ?? err.message
}
