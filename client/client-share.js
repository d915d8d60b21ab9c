/* global navigator, BroadcastChannel, AbortController, document, addEventListener, removeEventListener, setInterval, clearInterval, setTimeout, clearTimeout */
// The tabs of one origin share one stream per hub URL and clientId. The tab that holds a Web Lock
// leads: it reads the hub for the union of every tab's channels and hands what it reads to the
// others through a BroadcastChannel. Each tab keeps only its own channels, and knows the
// stream's last id, so whichever tab leads next resumes from there.

/** ms without a word from the leader before a follower asks it; as long again unanswered, and the follower takes over. */
const QUIET = 1000
/** ms a leader waits for more channel changes before it reconnects once for all of them. */
const SETTLE = 50

/** Whether tabs can share here: a page (not a worker) with Web Locks and BroadcastChannel, which need a secure context. */
export const canShare = () => globalThis.isSecureContext === true && typeof document === 'object' && typeof navigator === 'object' &&
  navigator.locks !== undefined && typeof BroadcastChannel === 'function'

/**
 * @typedef {import('./client-stream.js').Message} Message
 * @typedef {{ update: () => void, close: () => void, listen: (type: string) => void }} Steered
 * @typedef {{ channels: () => string[], deliver: (m: Message) => void }} Tab
 */

/**
 * Joins the tabs sharing `key`. Who leads is the lock's: the first tab to ask, then the next in
 * line when it closes or freezes. A leader's messages carry its generation (`g`, from the clock,
 * so a later leader has a higher one): a tab takes only those of the latest leader, so a deposed
 * one that wakes up is not heard, and drops the ids it has seen, so a replay's overlap is not
 * delivered twice. A leader that answers no ping (frozen without the `freeze` event) has its lock
 * stolen.
 * @param {string} key the lock's and the channel's name
 * @param {Tab} tab
 * @param {(channels: () => string[], post: (m: Message) => void) => Steered} open the leader's stream
 */
export function share (key, tab, open) {
  const me = Math.random().toString(36).slice(2)
  const bc = new BroadcastChannel(key)
  /** @type {Map<string, string[]>} the channels of the other tabs */
  const others = new Map()
  let gen = 0
  let heardAt = Date.now()
  let pingAt = 0
  let closed = false
  /** @type {{ g: number, r: object, release: () => void, s: Steered } | undefined} while this tab leads */
  let lead
  /** @type {AbortController | undefined} this tab's place in the lock's queue */
  let queued
  /** @type {Message | undefined} the leader's last status, for the tabs that join */
  let stated
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let settle

  /** @param {object} m */
  const send = (m) => bc.postMessage(m)
  /** @param {boolean} ask whether the other tabs should answer with theirs */
  const hello = (ask) => send({ t: 'hi', from: me, ch: tab.channels(), ask })
  const union = () => [...new Set([tab.channels(), ...others.values()].flat())]

  /** @param {object} r this request, to know whether it is the one taken away */
  function held (r) {
    return new Promise((resolve) => {
      if (closed) return resolve(undefined)
      const g = gen = Math.max(Date.now(), Math.floor(gen) + 1) + Math.random()
      stated = undefined
      /** @param {Message & { g?: number }} m */
      const post = (m) => {
        if (lead?.g !== g) return
        m.g = g
        if (m.t === 'st') stated = m
        send(m)
        tab.deliver(m)
      }
      lead = { g, r, release: () => resolve(undefined), s: open(union, post) }
      lead.s.update()
    })
  }

  /** @param {LockOptions} options */
  function ask (options) {
    const r = {}
    navigator.locks.request(key, options, () => held(r)).catch(() => {
      // Stolen from this tab (a follower found it frozen), or withdrawn before it was granted.
      if (lead?.r === r) stepDown()
    })
  }

  function queue () {
    queued?.abort()
    queued = new AbortController()
    ask({ signal: queued.signal })
  }

  function resign () {
    lead?.s.close()
    lead?.release()
    lead = stated = undefined
  }

  function stepDown () {
    resign()
    if (!closed) queue()
  }

  /** The leader reconnects once the changes have settled (several tabs often join at once). */
  function changed () {
    if (lead === undefined) return
    clearTimeout(settle)
    settle = setTimeout(() => lead?.s.update(), SETTLE)
  }

  bc.onmessage = ({ data: m }) => {
    if (m.g !== undefined) {
      if (m.g < gen) return
      if (m.g > gen) {
        gen = m.g
        if (lead !== undefined) stepDown()
      }
      heardAt = Date.now()
      if (m.t !== 'pong') tab.deliver(m)
    } else if (m.t === 'hi') {
      others.set(m.from, m.ch)
      if (m.ask) {
        hello(false)
        if (stated !== undefined) send(stated)
      }
      changed()
    } else if (m.t === 'bye') {
      others.delete(m.from)
      changed()
    } else if (m.t === 'ping' && lead !== undefined) {
      send({ t: 'pong', g: lead.g })
    }
  }

  const watch = setInterval(() => {
    if (lead !== undefined) return
    const now = Date.now()
    if (pingAt > heardAt) {
      if (now - pingAt < QUIET) return
      heardAt = now
      queued?.abort()
      ask({ steal: true })
    } else if (now - heardAt > QUIET) {
      pingAt = now
      send({ t: 'ping' })
    }
  }, QUIET / 2)

  // A frozen tab runs nothing: it gives the lock to one that runs, and asks again when it wakes.
  const onFreeze = () => {
    queued?.abort()
    resign()
  }
  const onResume = () => { if (!closed) queue() }
  /** @param {PageTransitionEvent} e */
  const onHide = (e) => { if (!e.persisted) send({ t: 'bye', from: me }) }
  document.addEventListener('freeze', onFreeze)
  document.addEventListener('resume', onResume)
  addEventListener('pagehide', onHide)

  hello(true)
  queue()
  return {
    get role () { return lead === undefined ? /** @type {const} */ ('follower') : /** @type {const} */ ('leader') },
    update () {
      hello(false)
      changed()
    },
    close () {
      closed = true
      clearInterval(watch)
      clearTimeout(settle)
      document.removeEventListener('freeze', onFreeze)
      document.removeEventListener('resume', onResume)
      removeEventListener('pagehide', onHide)
      send({ t: 'bye', from: me })
      queued?.abort()
      resign()
      bc.close()
    },
    /** @param {string} type */
    listen (type) { lead?.s.listen(type) }
  }
}
