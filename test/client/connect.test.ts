import t from 'tap'
import { waitUntil } from '../helper.js'
import { browserContext, clientHub, connectTab, haveChromium, opened, openTab, received, TIMEOUT } from './browser.js'

// One tab's client against a hub over HTTP/2: status, snapshots, events, channel changes, close.

t.test('one tab: open, snapshots, events of its channels in order, subscribe and unsubscribe, close', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t)
  await hub.app.hub.publish([{ channelName: 'a', type: 'note', payload: { before: true } }])
  const { context } = await browserContext(t)
  const tab = await openTab(context, hub)
  await connectTab(tab, hub, { channels: ['a', 'b'] })
  await opened(tab)
  const status = await tab.page.evaluate(() => (window as any).client.status)
  t.equal(status.resumed, false, 'a fresh stream')
  t.match(status.clientId, /^\S+$/)
  t.same(await tab.page.evaluate(() => (window as any).snapshots), [['a', { type: 'note', payload: { before: true } }], ['b', null]], 'one lastEvent per channel')
  t.equal(await tab.page.evaluate(() => (window as any).client.role), 'leader', 'the only tab leads')

  const { ids } = await hub.app.hub.publish([
    { channelName: 'a', type: 'x', payload: 1 },
    { channelName: 'c', type: 'x', payload: 'not mine' },
    { channelName: 'b', type: 'y', payload: null }
  ])
  await waitUntil(async () => (await received(tab)).length >= 2, TIMEOUT, 'two events')
  t.same(await received(tab), [['a', 'x', ids[0], 1], ['b', 'y', ids[2], null]])

  await tab.page.evaluate(() => (window as any).client.subscribe('c'))
  await waitUntil(async () => (await tab.page.evaluate(() => (window as any).statuses.length)) >= 3, TIMEOUT, 'a reconnect')
  await opened(tab)
  const more = await hub.app.hub.publish([{ channelName: 'c', type: 'z', payload: [1] }])
  await waitUntil(async () => (await received(tab)).length >= 3, TIMEOUT, 'the event of c')
  t.same((await received(tab))[2], ['c', 'z', more.ids[0], [1]])
  t.equal(hub.app.hub.connectionCount, 1, 'one connection')
  t.same(await tab.page.evaluate(() => (window as any).statuses.at(-1)), { state: 'open', resumed: true, clientId: status.clientId }, 'the same clientId, resumed')

  // Without channels, no connection; with them again, the stream resumes where it was.
  await tab.page.evaluate(() => (window as any).client.unsubscribe(['a', 'b', 'c']))
  await waitUntil(() => hub.app.hub.connectionCount === 0, TIMEOUT, 'no connection without channels')
  t.same(await tab.page.evaluate(() => (window as any).client.status), { state: 'connecting', reason: 'no channels' })
  const missed = await hub.app.hub.publish([{ channelName: 'b', type: 'y', payload: 'missed' }])
  await tab.page.evaluate(() => (window as any).client.subscribe('b'))
  await opened(tab)
  await waitUntil(async () => (await received(tab)).length >= 4, TIMEOUT, 'the event published meanwhile')
  t.same((await received(tab))[3], ['b', 'y', missed.ids[0], 'missed'], 'replayed from where the stream was')

  await tab.page.evaluate(() => (window as any).client.close())
  await waitUntil(() => hub.app.hub.connectionCount === 0, TIMEOUT, 'no connection')
  t.same(await tab.page.evaluate(() => (window as any).client.status), { state: 'closed' })
  t.same(tab.problems, [])
})
