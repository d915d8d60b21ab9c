import t from 'tap'
import { MemoryClientRegistry } from '../../lib/registry/registry.js'
import { build, rawSubscriber, registryCount, waitUntil } from '../helper.js'

t.test('GET /clients: empty, then every connected client with its connections and channels', async (t) => {
  const hub = await build(t)
  t.same((await hub.app.inject('/clients')).json(), { total: 0, clients: [] })
  const before = Date.now()
  const tab1 = await hub.subscribe('/subscribe?channels=a,b&clientId=ann')
  const tab2 = await hub.subscribe('/subscribe?channels=b,c&clientId=ann')
  const bob = await hub.subscribe('/subscribe?channels=c&clientId=bob')
  await Promise.all([tab1.waitForCount(3), tab2.waitForCount(3), bob.waitForCount(2)])

  const all = await hub.app.inject('/clients')
  t.equal(all.statusCode, 200)
  const { total, clients, nextCursor } = all.json()
  t.equal(total, 2, 'two tabs with one clientId are one client')
  t.equal(nextCursor, undefined, 'no nextCursor on the last page')
  t.match(clients, [
    { clientId: 'ann', connections: 2, channels: ['a', 'b', 'c'] },
    { clientId: 'bob', connections: 1, channels: ['c'] }
  ])
  const connectedAt = Date.parse(clients[0].connectedAt)
  t.ok(connectedAt >= before - 1000 && connectedAt <= Date.now(), `connectedAt ${clients[0].connectedAt} is an ISO time of now`)
  t.equal(new Date(connectedAt).toISOString(), clients[0].connectedAt)

  t.same((await hub.app.inject('/clients?channel=a')).json().clients.map((c: any) => c.clientId), ['ann'])
  t.same((await hub.app.inject('/clients/?channel=c')).json().total, 2)
  t.same((await hub.app.inject('/clients?channel=nobody')).json(), { total: 0, clients: [] })

  const one = await hub.app.inject('/clients/ann')
  t.equal(one.statusCode, 200)
  t.same(one.json(), clients[0])

  tab1.close()
  await waitUntil(async () => (await hub.app.hub.client('ann'))?.connections === 1, 5000, 'ann down to one connection')
  t.match((await hub.app.inject('/clients/ann')).json(), { connections: 1, channels: ['b', 'c'] })
  tab2.close()
  await waitUntil(async () => (await hub.app.hub.client('ann')) === undefined, 5000, 'ann gone')
  const gone = await hub.app.inject('/clients/ann')
  t.equal(gone.statusCode, 404)
  t.same(gone.json(), { statusCode: 404, code: 'SSE_HUB_NO_CLIENT', error: 'Not Found', message: 'clientId: "ann" is not connected' })
})

t.test('a clientId with a / is looked up as is or percent-encoded', async (t) => {
  const hub = await build(t)
  const client = await hub.subscribe('/subscribe?channels=a&clientId=team%2Fann')
  await client.waitForCount(2)
  t.match((await hub.app.inject('/clients/team%2Fann')).json(), { clientId: 'team/ann', connections: 1 })
  t.match((await hub.app.inject('/clients/team/ann')).json(), { clientId: 'team/ann', connections: 1 })
})

t.test('paging over 2,500 clients returns each exactly once', async (t) => {
  const registry = new MemoryClientRegistry()
  const hub = await build(t, { registry })
  // Registered straight through the registry: the paging under test is the registry's and the route's.
  const ids = Array.from({ length: 2500 }, (_, i) => `user-${String((i * 7919) % 2500).padStart(4, '0')}`)
  for (const clientId of ids) registry.add({ clientId, channelNames: ['lobby'], connectedAt: Date.now() })

  for (const [query, pageSize] of [['', 1000], ['limit=7&', 7], ['channel=lobby&limit=1000&', 1000]] as const) {
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const res = await hub.app.inject(`/clients?${query}${cursor === undefined ? '' : `cursor=${cursor}`}`)
      t.equal(res.statusCode, 200)
      const page = res.json()
      if (page.total !== 2500) t.fail(`total ${page.total}`)
      if (page.nextCursor !== undefined && page.clients.length !== pageSize) t.fail(`page of ${page.clients.length}`)
      seen.push(...page.clients.map((client: any) => client.clientId))
      cursor = page.nextCursor
      pages++
    } while (cursor !== undefined)
    t.equal(pages, Math.ceil(2500 / pageSize), `${query}: ${pages} pages`)
    t.equal(seen.length, 2500, `${query}: 2,500 entries`)
    t.equal(new Set(seen).size, 2500, `${query}: each exactly once`)
    t.same(seen, [...ids].sort(), `${query}: in clientId order`)
  }
})

t.test('bad /clients queries are 400s naming the value', async (t) => {
  const hub = await build(t)
  const cases: Array<[string, number, RegExp]> = [
    ['/clients?limit=0', 400, /^limit: "0" is not an integer from 1 to 1000$/],
    ['/clients?limit=1001', 400, /^limit: "1001" is not an integer from 1 to 1000$/],
    ['/clients?limit=ten', 400, /^limit: "ten" is not an integer from 1 to 1000$/],
    ['/clients?limit=1.5', 400, /^limit: "1.5" is not an integer from 1 to 1000$/],
    ['/clients?limit=', 400, /^limit: "" is not an integer/],
    ['/clients?cursor=%24%24', 400, /^cursor: "\$\$" is not a cursor of a previous page$/],
    ['/clients?cursor=', 400, /^cursor: "" is not a cursor/],
    ['/clients?channel=a%20b', 400, /^channel: "a b" is not a valid channel name/],
    ['/clients?channel=', 400, /^channel: "" is not a valid channel name/],
    ['/clients/bad%20id', 400, /^clientId: "bad id" is not a valid clientId/],
    ['/clients/nobody', 404, /^clientId: "nobody" is not connected$/]
  ]
  for (const [url, statusCode, message] of cases) {
    const res = await hub.app.inject(url)
    t.equal(res.statusCode, statusCode, url)
    t.match(res.json(), { statusCode, message }, url)
  }
})

t.test('abrupt disconnects (socket destroyed mid-stream) leave no ghost', async (t) => {
  const hub = await build(t)
  const { port } = hub.app.server.address() as { port: number }
  const sockets = await Promise.all(Array.from({ length: 20 }, (_, i) => rawSubscriber(port, `channels=room,c${i % 3}&clientId=ghost-${i % 10}`)))
  t.teardown(() => { for (const socket of sockets) socket.destroy() })
  t.equal((await hub.app.inject('/clients')).json().total, 10)
  t.equal((await hub.app.inject('/channels/room')).json().subscribers, 20)

  // Half reset (RST), half just destroyed, while a publish is on its way to them.
  const publishing = hub.publish({ events: [{ channelName: 'room', type: 'tick', payload: 'x'.repeat(10000) }] })
  sockets.forEach((socket, i) => { if (i % 2 === 0) socket.resetAndDestroy(); else socket.destroy() })
  t.equal((await publishing).statusCode, 200)
  await waitUntil(() => hub.app.hub.connectionCount === 0, 5000, 'every connection closed')
  t.same((await hub.app.inject('/clients')).json(), { total: 0, clients: [] })
  t.same((await hub.app.inject('/channels')).json(), { total: 0, channels: [] })
  t.same(await registryCount(hub.app.hub), { clients: 0, connections: 0 })
  t.equal((await hub.app.inject('/clients/ghost-1')).statusCode, 404)
})
