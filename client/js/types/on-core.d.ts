// An entry beside `@ferrocast/client/core`: its classes work with the core's channels and sockets.
import type { Channel } from "@ferrocast/client/core";
