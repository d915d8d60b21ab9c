/**
 * The keys of a live collection in sorted order, for cursor paging. Writes are O(1): they only
 * note what changed, because they happen on every connect and disconnect. A read brings the order
 * up to date in O(k log n) comparisons for the k keys changed since the last read plus one
 * sequential copy of the n keys, and a read of an unchanged set (the pages after the first,
 * while the set is stable) is a binary search.
 *
 * The caller adds a key that is not in the set and deletes one that is (as the registry does:
 * on the first connection of a client, on its last).
 */
export class SortedKeys {
  private sorted: string[] = []
  /** Added since the last read. */
  private readonly added = new Set<string>()
  /** Deleted since the last read and still in `sorted`; never more keys than `sorted` holds. */
  private readonly removed = new Set<string>()

  add (key: string): void {
    // Deleted and back before a read: it is still in `sorted`.
    if (!this.removed.delete(key)) this.added.add(key)
  }

  delete (key: string): void {
    // Added and gone before a read: it never reached `sorted`.
    if (!this.added.delete(key)) this.removed.add(key)
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

  private settle (): string[] {
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
