import type { BrowserContext } from 'playwright-core'
import t, { type Test } from 'tap'
import { waitUntil } from '../helper.js'
import { browserContext, type ClientHub, clientHub, connectTab, haveChromium, opened, openTab, received, type Tab, TIMEOUT } from './browser.js'

// A leader that stops running without closing: frozen by the browser (it gets the `freeze`
// event), or hung (its script busy, no word at all). Another tab takes over, the stopped one
// comes back as a follower, and every tab gets every event once, in order.

const role = (tab: Tab): Promise<string> => tab.page.evaluate(() => (window as any).client.role)

/** Three tabs on channel `all`, open on one connection, and a steady 50 events/s on it. */
async function setUp (t: Test): Promise<{ hub: ClientHub, context: BrowserContext, tabs: Tab[], published: string[], count: () => number, stop: () => void }> {
  const hub = await clientHub(t)
  const { context } = await browserContext(t)
  const tabs: Tab[] = []
  for (let i = 0; i < 3; i++) {
    const tab = await openTab(context, hub)
    await connectTab(tab, hub, { channels: ['all'] })
    tabs.push(tab)
  }
  for (const tab of tabs) await opened(tab)
  const published: string[] = []
  let n = 0
  const publisher = setInterval(() => {
    const seq = n++
    hub.app.hub.publish([{ channelName: 'all', type: 'tick', payload: seq }]).then(({ ids }) => { published[seq] = ids[0] }, () => {})
  }, 20)
  t.teardown(() => clearInterval(publisher))
  return { hub, context, tabs, published, count: () => n, stop: () => clearInterval(publisher) }
}

/** Stops publishing, then checks that every tab got every event once, in order. */
async function checkAll (t: Test, { tabs, published, count, stop }: Awaited<ReturnType<typeof setUp>>): Promise<void> {
  stop()
  const total = count()
  await waitUntil(() => published.filter((id) => id !== undefined).length === total, TIMEOUT, 'every publish answered')
  for (const [i, tab] of tabs.entries()) {
    await waitUntil(async () => (await received(tab)).length >= total, TIMEOUT, `tab ${i}: ${total} events`)
    const got = await received(tab)
    t.same(got.map(([, , id, payload]) => [id, payload]), published.map((id, seq) => [id, seq]), `tab ${i}: all ${total} events, once, in order`)
    t.same(tab.problems, [], `tab ${i}: no errors`)
  }
}

/** The index of the leading tab among `candidates` (bounded wait). */
async function leaderAmong (tabs: Tab[], candidates: number[]): Promise<number> {
  let found = -1
  await waitUntil(async () => {
    for (const i of candidates) if (await role(tabs[i]) === 'leader') found = i
    return found >= 0
  }, TIMEOUT, `a leader among tabs ${candidates.join(', ')}`)
  return found
}

// Headless Chromium freezes no visible page (Page.setWebLifecycleState leaves it running), so the
// test does what a freeze does to the page: the `freeze` event, then nothing runs, then `resume`.
t.test('a leader that freezes gives the lock away and comes back as a follower', async (t) => {
  if (!haveChromium(t)) return
  const setup = await setUp(t)
  const { tabs, count } = setup
  const first = await leaderAmong(tabs, [0, 1, 2])
  await waitUntil(() => count() >= 50, TIMEOUT, 'a second of events')
  const frozen = tabs[first].page.evaluate(() => new Promise<void>((resolve) => {
    document.dispatchEvent(new Event('freeze'))
    setTimeout(() => {
      const end = Date.now() + 4000
      while (Date.now() < end);
      document.dispatchEvent(new Event('resume'))
      resolve()
    }, 0)
  }))
  const next = await leaderAmong(tabs, [0, 1, 2].filter((i) => i !== first))
  t.not(next, first, 'another tab leads while it is frozen')
  await frozen
  t.equal(await role(tabs[first]), 'follower', 'the thawed tab follows')
  const at = count()
  await waitUntil(() => count() >= at + 50, TIMEOUT, 'a second of events after')
  await checkAll(t, setup)
})

t.test('a hung leader, that answers nothing, has its lock taken; it steps down when it runs again', async (t) => {
  if (!haveChromium(t)) return
  const setup = await setUp(t)
  const { tabs, count } = setup
  const first = await leaderAmong(tabs, [0, 1, 2])
  await waitUntil(() => count() >= 50, TIMEOUT, 'a second of events')
  // Its script busy for 6 s: no message handled, no event read, no `freeze` event.
  const hung = tabs[first].page.evaluate(() => new Promise<void>((resolve) => setTimeout(() => {
    const end = Date.now() + 6000
    while (Date.now() < end);
    resolve()
  }, 0)))
  const next = await leaderAmong(tabs, [0, 1, 2].filter((i) => i !== first))
  t.not(next, first, 'another tab leads while it is hung')
  await hung
  await waitUntil(async () => await role(tabs[first]) === 'follower', TIMEOUT, 'the woken tab follows')
  const at = count()
  await waitUntil(() => count() >= at + 50, TIMEOUT, 'a second of events after')
  await checkAll(t, setup)
  await waitUntil(() => setup.hub.app.hub.connectionCount === 1, TIMEOUT, 'one connection again')
})
