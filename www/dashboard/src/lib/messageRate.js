// Messages the page receives, counted per second over the last minute: the chart's data.
import { inject, onBeforeUnmount, onMounted, provide, reactive } from "vue"

export const SECONDS = 60
const KEY = Symbol("message rate")

/** Makes the counter, provides it to the components below, and ticks it every second while mounted. */
export function provideMessageRate() {
  const rate = reactive({
    // `series[SECONDS - 1]` is the second under way; the ones before it are complete.
    series: new Array(SECONDS).fill(0),
    total: 0,
    peak: 0,
  })
  const count = (n = 1) => {
    rate.series[SECONDS - 1] += n
    rate.total += n
  }
  let timer = null
  onMounted(() => {
    timer = setInterval(() => {
      rate.series.shift()
      rate.series.push(0)
      rate.peak = Math.max(...rate.series.slice(0, -1))
    }, 1000)
  })
  onBeforeUnmount(() => clearInterval(timer))
  const api = { rate, count }
  provide(KEY, api)
  return api
}

/** The counter a parent provided (a no-op one outside the dashboard). */
export function useMessageRate() {
  return inject(KEY, { rate: reactive({ series: new Array(SECONDS).fill(0), total: 0, peak: 0 }), count() {} })
}

/**
 * Calls `count(n)` with how many items were added at the end of a capped list that drops from the front (as the
 * event stream's `events`), however many arrived between two looks.
 */
export function countAppended(previous, next) {
  if (!next.length) return 0
  if (!previous) return next.length
  const at = next.lastIndexOf(previous)
  return at === -1 ? next.length : next.length - 1 - at
}
