// phoenix.js with Presence, which a page tracking who is online imports too.
export { Socket, Presence } from "phoenix"
