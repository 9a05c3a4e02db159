// The package entry these tests run against, as Node resolves it: `@ferrocast/client` (the full API) unless
// FERROCAST_CLIENT_ENTRY=core, which loads `@ferrocast/client/core`. A test of something the core does not have
// checks `has`.

const core = process.env.FERROCAST_CLIENT_ENTRY === "core";

export const client = await (core ? import("@ferrocast/client/core") : import("@ferrocast/client"));
export const { Socket } = client;

/** Whether the entry exports `name` (`EventStream` is not in the core). */
export const has = (name) => name in client;
