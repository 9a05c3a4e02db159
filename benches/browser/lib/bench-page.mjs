// The bench page as run.mjs sees it: a tab opened without Playwright's instrumentation, driven over a control
// WebSocket to the static server.
//
// Why not Playwright's own page: Playwright enables the DevTools Network domain on every page it manages, so the
// browser copies every WebSocket message, payload and all, to Node as a CDP event. That doubles the browser's
// work per message and would be measured as the clients' cost. A tab made with `Target.createTarget` in the
// browser's default context belongs to no Playwright context, so Playwright detaches from it at once; the page
// then connects back to /control (served beside it, see static-server.mjs) and answers requests there.

import { randomUUID } from "node:crypto"

const PAGE_READY_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 15_000

export class BenchPage {
  // Opens the page at `pageUrl` in a new tab through the browser-level CDP session `cdp`, and waits until it has
  // connected to `control` (a ControlServer).
  static async open(cdp, control, pageUrl) {
    const token = randomUUID()
    const connected = control.waitFor(token, PAGE_READY_TIMEOUT_MS)
    const { targetId } = await cdp.send("Target.createTarget", { url: `${pageUrl}/bench.html?page=${token}` })
    const page = new BenchPage(cdp, targetId)
    try {
      page.attach(await connected)
    } catch (error) {
      await page.close()
      throw error
    }
    return page
  }

  constructor(cdp, targetId) {
    this.cdp = cdp
    this.targetId = targetId
    this.ws = null
    this.nextId = 1
    this.pending = new Map()
    this.pageErrors = []
    // The page's latest progress report (`{count, closes, errors}`) and a waiter for the next one.
    this.latest = { count: 0, closes: 0, errors: 0 }
    this.wake = null
  }

  attach(ws) {
    this.ws = ws
    ws.on("message", (data) => this.receive(JSON.parse(String(data))))
    ws.on("close", () => {
      for (const { reject } of this.pending.values()) reject(new Error("the bench page closed its control socket"))
      this.pending.clear()
    })
  }

  receive(message) {
    if (message.report) {
      if (message.report.count >= this.latest.count) this.latest = message.report
      this.wake?.()
    } else if (message.pageError) {
      this.pageErrors.push(message.pageError)
    } else {
      const waiting = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (message.error) waiting?.reject(new Error(`in the page: ${message.error}`))
      else waiting?.resolve(message.result)
    }
  }

  request(op, args) {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`the bench page did not answer ${op} within ${REQUEST_TIMEOUT_MS} ms`))
      }, REQUEST_TIMEOUT_MS)
      const settle = (then) => (value) => {
        clearTimeout(timer)
        then(value)
      }
      this.pending.set(id, { resolve: settle(resolve), reject: settle(reject) })
      this.ws.send(JSON.stringify({ id, op, args }))
    })
  }

  // Connects a client and joins a room (see page/bench.mjs): `{note}` or `{skipped}`.
  start(args) {
    return this.request("start", args)
  }

  // `{count, gaps, wsMessages, closes, errors, t}`, `t` from the page's clock.
  snapshot() {
    return this.request("progress")
  }

  stop() {
    return this.request("stop")
  }

  // Resolves at the next progress report, or after `timeoutMs`.
  nextReport(timeoutMs) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.wake = () => {
        clearTimeout(timer)
        this.wake = null
        resolve()
      }
    })
  }

  async close() {
    this.ws?.close()
    await this.cdp.send("Target.closeTarget", { targetId: this.targetId }).catch(() => {})
  }
}
