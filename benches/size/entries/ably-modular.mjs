// The modular SDK with the plugins a realtime page with presence needs (new BaseRealtime({ plugins })).
export { BaseRealtime, FetchRequest, RealtimePresence, WebSocketTransport } from "ably/modular"
