/**
 * The keys of a live collection in sorted order, for cursor paging. Writes are O(1): they only
 * note what changed, because they happen on every connect and disconnect. A read brings the order
 * up to date in O(k log n) comparisons for the k keys changed since the last read plus one
 * sequential copy of the n keys, and a read of an unchanged set (the pages after the first,
 * while the set is stable) is a binary search.
 *
 * Nothing is noted before the first read, nor once the changes since the last read outnumber
 * the keys: the order is then forgotten and the next read sorts the collection afresh, which
 * costs no more than applying those changes would. So a hub nobody pages through spends no
 * memory here, and a burst of connects costs one sort instead of a set entry per connect.
 *
 * The caller adds a key that is not in the set and deletes one that is (as the registry does:
 * on the first connection of a client, on its last).
 */
export class SortedKeys {
  /** The order as of the last read; undefined: not kept (see above). */
  private sorted: string[] | undefined
  /** Added since the last read. */
  private readonly added = new Set<string>()
  /** Deleted since the last read and still in `sorted`; never more keys than `sorted` holds. */
  private readonly removed = new Set<string>()

  /** @param source the collection's keys, in any order, read when the order must be rebuilt */
  constructor (private readonly source: () => Iterable<string>) {}

  add (key: string): void {
    if (this.sorted === undefined) return
    // Deleted and back before a read: it is still in `sorted`.
    if (!this.removed.delete(key)) this.added.add(key)
    this.forgetIfBehind()
  }

  delete (key: string): void {
    if (this.sorted === undefined) return
    // Added and gone before a read: it never reached `sorted`.
    if (!this.added.delete(key)) this.removed.add(key)
    this.forgetIfBehind()
  }

  /**
   * Up to `limit` keys greater than `after` (all keys when undefined), in code-unit order, and
   * whether more follow. A key that left since `after` was handed out does not shift the page.
   */
  page (after: string | undefined, limit: number): { keys: string[], more: boolean } {
    const sorted = this.settle()
    const start = after === undefined ? 0 : firstAbove(sorted, after)
    return { keys: sorted.slice(start, start + limit), more: start + limit < sorted.length }
  }

  private forgetIfBehind (): void {
    if (this.added.size + this.removed.size <= (this.sorted as string[]).length) return
    this.sorted = undefined
    this.added.clear()
    this.removed.clear()
  }

  private settle (): string[] {
    if (this.sorted === undefined) {
      this.sorted = [...this.source()].sort()
      return this.sorted
    }
    if (this.removed.size > 0) {
      const positions: number[] = []
      for (const key of this.removed) {
        const i = firstAtLeast(this.sorted, key)
        if (this.sorted[i] === key) positions.push(i)
      }
      this.removed.clear()
      removeAt(this.sorted, positions.sort((a, b) => a - b))
    }
    if (this.added.size > 0) {
      const fresh = [...this.added].sort()
      this.added.clear()
      insertSorted(this.sorted, fresh)
    }
    return this.sorted
  }
}

/** Index of the first key greater than or equal to `key`. */
function firstAtLeast (sorted: readonly string[], key: string): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (sorted[middle] < key) low = middle + 1
    else high = middle
  }
  return low
}

/** Index of the first key greater than `key`. */
function firstAbove (sorted: readonly string[], key: string): number {
  const i = firstAtLeast(sorted, key)
  return sorted[i] === key ? i + 1 : i
}

/**
 * Removes the entries at ascending `positions` in place. Only references move, in one pass, and
 * nothing is allocated: building a new array of n keys costs more than moving them.
 */
function removeAt (list: string[], positions: readonly number[]): void {
  if (positions.length === 0) return
  let write = positions[0]
  for (let p = 0; p < positions.length; p++) {
    const end = p + 1 < positions.length ? positions[p + 1] : list.length
    for (let read = positions[p] + 1; read < end; read++) list[write++] = list[read]
  }
  list.length = write
}

/**
 * Inserts the sorted, distinct `fresh` keys into `list` in place, each where a binary search puts
 * it (one already there is kept once): the list grows by their number and is filled from the end.
 */
function insertSorted (list: string[], fresh: readonly string[]): void {
  const keys: string[] = []
  const positions: number[] = []
  for (const key of fresh) {
    const at = firstAtLeast(list, key)
    if (list[at] === key) continue
    keys.push(key)
    positions.push(at)
  }
  let read = list.length - 1
  for (const key of keys) list.push(key)
  let write = list.length - 1
  for (let k = keys.length - 1; k >= 0; k--) {
    while (read >= positions[k]) list[write--] = list[read--]
    list[write--] = keys[k]
  }
}
