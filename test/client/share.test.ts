import t from 'tap'
import { waitUntil } from '../helper.js'
import { browserContext, clientHub, connectTab, haveChromium, opened, openTab, received, type Tab, TIMEOUT } from './browser.js'

// Tabs of one browser share one connection: one leader by Web Locks, the others fed through a
// BroadcastChannel, each tab getting only its own channels, nothing lost or doubled across leaders.

const role = (tab: Tab): Promise<string> => tab.page.evaluate(() => (window as any).client.role)

t.test('ten tabs: one connection to the hub, each tab gets only its channels', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t)
  const { context } = await browserContext(t)
  const tabs: Tab[] = []
  for (let i = 0; i < 10; i++) {
    const tab = await openTab(context, hub)
    await connectTab(tab, hub, { channels: [`group${i % 3}`, `tab${i}`] })
    tabs.push(tab)
  }
  for (const tab of tabs) await opened(tab)
  const roles = await Promise.all(tabs.map(role))
  t.equal(roles.filter((r) => r === 'leader').length, 1, 'one leader')
  t.equal(roles.filter((r) => r === 'follower').length, 9, 'nine followers')
  await waitUntil(() => hub.app.hub.connectionCount === 1, TIMEOUT, 'one connection')
  const clients = (await hub.app.inject('/events/clients')).json()
  t.equal(clients.total, 1, 'one client')
  t.equal(clients.clients[0].connections, 1, 'on one connection')
  t.same(clients.clients[0].channels.sort(), ['group0', 'group1', 'group2', ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => `tab${i}`)].sort(), 'the union of the tabs\' channels')

  const events = [
    ...[0, 1, 2].map((g) => ({ channelName: `group${g}`, type: 'group', payload: g })),
    ...tabs.map((_tab, i) => ({ channelName: `tab${i}`, type: 'own', payload: { i } }))
  ]
  const { ids } = await hub.app.hub.publish(events)
  for (const [i, tab] of tabs.entries()) {
    await waitUntil(async () => (await received(tab)).length >= 2, TIMEOUT, `tab ${i}'s two events`)
  }
  // Later events on the channels of every tab, so that anything extra would have arrived by now.
  const last = await hub.app.hub.publish([0, 1, 2].map((g) => ({ channelName: `group${g}`, type: 'end', payload: null })))
  for (const [i, tab] of tabs.entries()) {
    await waitUntil(async () => (await received(tab)).length >= 3, TIMEOUT, `tab ${i}'s end`)
    t.same(await received(tab), [
      [`group${i % 3}`, 'group', ids[i % 3], i % 3],
      [`tab${i}`, 'own', ids[3 + i], { i }],
      [`group${i % 3}`, 'end', last.ids[i % 3], null]
    ], `tab ${i}: its events only, once, in order`)
  }
  t.equal(hub.app.hub.connectionCount, 1, 'still one connection')
  t.same(tabs.flatMap((tab) => tab.problems), [])
})

t.test('the leader closed three times under 50 events/s: every tab gets every event of its channels once, in order', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t)
  const { context } = await browserContext(t)
  const tabs: Tab[] = []
  for (let i = 0; i < 5; i++) {
    const tab = await openTab(context, hub)
    await connectTab(tab, hub, { channels: ['all', `tab${i}`] })
    tabs.push(tab)
  }
  for (const tab of tabs) await opened(tab)
  await waitUntil(() => hub.app.hub.connectionCount === 1, TIMEOUT, 'one connection')

  // A steady 50 events/s, turning over the channels: all, tab0..tab4.
  const channels = ['all', 'tab0', 'tab1', 'tab2', 'tab3', 'tab4']
  const published: Array<{ id: string, channel: string, n: number }> = []
  let n = 0
  const publisher = setInterval(() => {
    const channel = channels[n % channels.length]
    const seq = n++
    hub.app.hub.publish([{ channelName: channel, type: 'tick', payload: seq }])
      .then(({ ids }) => { published.push({ id: ids[0], channel, n: seq }) }, () => {})
  }, 20)
  t.teardown(() => clearInterval(publisher))

  const closedLeaders: number[] = []
  for (let round = 0; round < 3; round++) {
    await waitUntil(() => n >= (round + 1) * 50, TIMEOUT, 'a second of events')
    const roles = await Promise.all(tabs.map((tab) => tab.page.isClosed() ? 'closed' : role(tab)))
    const leader = roles.indexOf('leader')
    t.ok(leader >= 0, `round ${round}: a leader`)
    closedLeaders.push(leader)
    await tabs[leader].page.close()
    // Another tab takes over and opens the stream again.
    await waitUntil(async () => {
      for (const [i, tab] of tabs.entries()) {
        if (!tab.page.isClosed() && await role(tab) === 'leader' && i !== leader) return true
      }
      return false
    }, TIMEOUT, `round ${round}: a new leader`)
  }
  await waitUntil(() => n >= 200, TIMEOUT, 'a second of events after the last take-over')
  clearInterval(publisher)
  const total = n
  await waitUntil(() => published.length === total, TIMEOUT, 'every publish answered')
  published.sort((a, b) => a.n - b.n)

  const left = tabs.map((tab, i) => ({ tab, i })).filter(({ tab }) => !tab.page.isClosed())
  t.equal(left.length, 2, 'two tabs left')
  for (const { tab, i } of left) {
    const mine = published.filter(({ channel }) => channel === 'all' || channel === `tab${i}`)
    await waitUntil(async () => (await received(tab)).length >= mine.length, TIMEOUT, `tab ${i}: ${mine.length} events`)
    const got = await received(tab)
    t.equal(got.length, mine.length, `tab ${i}: as many events as were published on its channels (${mine.length})`)
    t.same(got.map(([channel, , id, payload]) => ({ id, channel, n: payload })), mine, `tab ${i}: each once, in order`)
    await opened(tab)
    t.same(tab.problems, [], `tab ${i}: no errors`)
  }
  t.equal(hub.app.hub.connectionCount, 1, 'one connection at the end')
  const replayed = hub.app.hub.counters().replayed
  t.ok(replayed > 0, `the new leaders resumed: the hub replayed ${replayed} events published while no tab held the stream`)
  for (const { tab } of left) t.equal(await tab.page.evaluate(() => (window as any).client.status.resumed), true, 'resumed')
  t.comment(`closed leaders: tabs ${closedLeaders.join(', ')}; ${total} events published`)
})

t.test('without sharing, one connection per tab: share: false, no Web Locks, or a context that is not secure', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t)
  // The same hub's port over plain HTTP under a name that is not localhost: not a secure context.
  const plain = await clientHub(t, {}, { tls: false })
  const { context } = await browserContext(t, ['--host-resolver-rules=MAP hub.test 127.0.0.1'])
  const insecure = { ...plain, origin: plain.origin.replace('127.0.0.1', 'hub.test'), url: plain.url.replace('127.0.0.1', 'hub.test') }
  const tabs: Tab[] = []
  for (let i = 0; i < 3; i++) {
    const tab = await openTab(context, hub)
    await connectTab(tab, hub, { channels: ['news'], share: false })
    tabs.push(tab)
  }
  for (let i = 0; i < 3; i++) {
    const tab = await openTab(context, hub)
    await tab.page.evaluate(() => Object.defineProperty(navigator, 'locks', { value: undefined }))
    await connectTab(tab, hub, { channels: ['news'] })
    tabs.push(tab)
  }
  const others: Tab[] = []
  for (let i = 0; i < 3; i++) {
    const tab = await openTab(context, insecure)
    t.equal(await tab.page.evaluate(() => isSecureContext), false, 'http://hub.test is not a secure context')
    await connectTab(tab, insecure, { channels: ['news'] })
    others.push(tab)
  }
  for (const tab of [...tabs, ...others]) {
    await opened(tab)
    t.equal(await role(tab), 'alone', 'a connection of its own')
  }
  await waitUntil(() => hub.app.hub.connectionCount === 6 && plain.app.hub.connectionCount === 3, TIMEOUT, 'one connection per tab')
  const { ids } = await hub.app.hub.publish([{ channelName: 'news', type: 'headline', payload: 'h2' }])
  const other = await plain.app.hub.publish([{ channelName: 'news', type: 'headline', payload: 'h1' }])
  for (const tab of tabs) await waitUntil(async () => (await received(tab)).length === 1, TIMEOUT, 'the event')
  for (const tab of others) await waitUntil(async () => (await received(tab)).length === 1, TIMEOUT, 'the event')
  for (const tab of tabs) t.same(await received(tab), [['news', 'headline', ids[0], 'h2']])
  for (const tab of others) t.same(await received(tab), [['news', 'headline', other.ids[0], 'h1']])
  t.same([...tabs, ...others].flatMap((tab) => tab.problems), [])
})

t.test('a follower\'s subscribe, unsubscribe and close change the shared stream\'s channels; other clientIds do not share', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t)
  const { context } = await browserContext(t)
  const [a, b, c] = [await openTab(context, hub), await openTab(context, hub), await openTab(context, hub)]
  await connectTab(a, hub, { channels: ['common'] })
  await opened(a)
  await connectTab(b, hub, { channels: ['common', 'b1'] })
  await opened(b)
  const union = async (): Promise<string[]> => (await hub.app.inject('/events/clients')).json().clients.flatMap((client: any) => client.channels).sort()
  await waitUntil(async () => (await union()).join() === 'b1,common', TIMEOUT, 'the union of a and b')
  t.equal(await role(a), 'leader', 'the first tab leads')
  const follower = b

  await follower.page.evaluate(() => (window as any).client.subscribe('extra'))
  await waitUntil(async () => (await union()).includes('extra'), TIMEOUT, 'the follower\'s new channel in the stream')
  await opened(follower)
  const first = await hub.app.hub.publish([{ channelName: 'extra', type: 'x', payload: 1 }])
  await waitUntil(async () => (await received(follower)).length === 1, TIMEOUT, 'the event of the new channel')
  t.same(await received(follower), [['extra', 'x', first.ids[0], 1]])

  await follower.page.evaluate(() => (window as any).client.unsubscribe('extra'))
  await waitUntil(async () => !(await union()).includes('extra'), TIMEOUT, 'the channel left the stream')
  t.same(await follower.page.evaluate(() => (window as any).client.channels), ['common', 'b1'])

  // Another clientId: a connection of its own, beside the shared one.
  await connectTab(c, hub, { channels: ['common'], clientId: 'carol' })
  await opened(c)
  t.equal(await role(c), 'leader', 'it leads its own group')
  await waitUntil(() => hub.app.hub.connectionCount === 2, TIMEOUT, 'two connections')
  t.ok((await hub.app.hub.client('carol')) !== undefined, 'carol is on the hub')

  // The follower leaves: the shared stream drops what only it had.
  await follower.page.evaluate(() => (window as any).client.close())
  await waitUntil(async () => !(await union()).includes('b1'), TIMEOUT, 'b1 left with its tab')
  const last = await hub.app.hub.publish([{ channelName: 'common', type: 'y', payload: 2 }])
  await waitUntil(async () => (await received(a)).some(([, , id]) => id === last.ids[0]), TIMEOUT, 'the leader still receives')
  await waitUntil(async () => (await received(c)).some(([, , id]) => id === last.ids[0]), TIMEOUT, 'and carol')
  t.equal((await received(follower)).length, 1, 'the closed tab got nothing more')
  t.same([a, b, c].flatMap((tab) => tab.problems), [])
})
