/**
 * Presence observers for the presence scenarios: `GET /presence` watchers and `presence=1`
 * subscribers on raw sockets, attached before a connect burst. They read everything the hub
 * sends them and count the events by type, so the run can show that they really followed it.
 */
import { connect, type Socket } from 'node:net'

export interface ObserverOptions {
  host: string
  port: number
  /** `GET /presence` streams. */
  watchers: number
  /** `GET /subscribe?channels=…&presence=1` streams. */
  presenceSubscribers: number
}

export interface ObserverStats {
  watchers: number
  presenceSubscribers: number
  /** `join` events received, over all watchers. */
  joins: number
  /** `online-presence` events received, over all presence subscribers. */
  onlinePresence: number
  bytes: number
  /** Observer streams the hub closed before the end. */
  closed: number
}

const MARKERS = { joins: 'event: join\n', onlinePresence: 'event: online-presence\n' } as const

/** Opens the observers; resolves when each has its response head. `stop()` closes them and counts. */
export async function attachObservers (options: ObserverOptions): Promise<{ stop: () => ObserverStats }> {
  const stats: ObserverStats = { watchers: options.watchers, presenceSubscribers: options.presenceSubscribers, joins: 0, onlinePresence: 0, bytes: 0, closed: 0 }
  const sockets: Socket[] = []
  let stopping = false
  const open = (path: string, marker: keyof typeof MARKERS): Promise<void> => new Promise((resolve, reject) => {
    const socket = connect(options.port, options.host)
    sockets.push(socket)
    let carry = ''
    let headed = false
    socket.setEncoding('latin1')
    socket.on('data', (text: string) => {
      stats.bytes += text.length
      if (!headed && text.includes('\r\n\r\n')) {
        headed = true
        resolve()
      }
      // Count markers, also one split across two reads.
      const scan = carry + text
      for (let at = scan.indexOf(MARKERS[marker]); at >= 0; at = scan.indexOf(MARKERS[marker], at + 1)) stats[marker]++
      carry = scan.slice(-(MARKERS[marker].length - 1))
    })
    socket.on('error', reject)
    socket.on('close', () => {
      if (!stopping) stats.closed++
      reject(new Error(`observer ${path} closed before its response head`))
    })
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${options.host}\r\nAccept: text/event-stream\r\n\r\n`)
  })
  await Promise.all([
    ...Array.from({ length: options.watchers }, () => open('/presence', 'joins')),
    ...Array.from({ length: options.presenceSubscribers }, (_, i) => open(`/subscribe?channels=observer-${i}&clientId=observer-${i}&presence=1`, 'onlinePresence'))
  ])
  return {
    stop () {
      stopping = true
      for (const socket of sockets) socket.destroy()
      return stats
    }
  }
}
