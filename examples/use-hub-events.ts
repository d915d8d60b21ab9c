// A React hook over the hub's browser client: copy it into an app that has React. It is
// type-checked here against a minimal declaration of React (examples/react.d.ts).
import { useEffect, useRef, useState } from 'react'
import { connect, type ConnectOptions, type EventMeta, type HubStatus } from 'fastify-sse-hub/client'

/**
 * Calls `onEvent` for each event of `type` on `options.channels` while the component is
 * mounted, and returns the client's status. One client per hub URL, channel set, clientId and
 * type: the tabs of the app still share one connection. `onEvent` and `options.token` may be
 * new functions at each render.
 *
 * ```tsx
 * interface Events { chat: { from: string, text: string } }
 * function Room ({ room }: { room: string }) {
 *   const [lines, setLines] = useState<string[]>([])
 *   const status = useHubEvents<Events, 'chat'>({ url: 'https://hub.example.com/events', channels: [room] }, 'chat',
 *     (chat) => setLines((all) => [...all, `${chat.from}: ${chat.text}`]))
 *   return <>{status.state}<ul>{lines.map((line, i) => <li key={i}>{line}</li>)}</ul></>
 * }
 * ```
 */
export function useHubEvents<Events extends object, Type extends keyof Events & string> (
  options: ConnectOptions,
  type: Type,
  onEvent: (payload: Events[Type], meta: EventMeta<Type>) => void
): HubStatus {
  const [status, setStatus] = useState<HubStatus>({ state: 'connecting' })
  const latest = useRef({ onEvent, token: options.token })
  latest.current = { onEvent, token: options.token }
  // The effect's keys are strings, so a new array of the same channels does not reconnect.
  const channels = typeof options.channels === 'string' ? options.channels : options.channels.join(',')

  useEffect(() => {
    const client = connect<Events>({
      ...options,
      channels: channels === '' ? [] : channels.split(','),
      // Asked before each connect: always the token of the latest render.
      token: async () => {
        const token = latest.current.token
        return typeof token === 'function' ? await token() : token
      }
    })
    client.on(type, (payload, meta) => latest.current.onEvent(payload, meta))
    setStatus(client.status)
    const stop = client.onStatus(setStatus)
    return () => {
      stop()
      client.close()
    }
  }, [options.url, channels, options.clientId, options.share, type])

  return status
}
