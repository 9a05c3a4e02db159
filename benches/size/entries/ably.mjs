// The full SDK, imported as its documentation shows; a page then uses Ably.Realtime.
import * as Ably from "ably"

export const Realtime = Ably.Realtime
