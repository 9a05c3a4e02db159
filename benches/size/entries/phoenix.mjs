// What a phoenix.js page imports: the Socket (channels come from it).
export { Socket } from "phoenix"
