// Connection tokens for the Node tests, signed as an application's backend signs them for a relay started with
// `--jwt-secret`: HS256 JWTs, with `exp` set from `expiresIn` seconds (negative: already expired).

import { createHmac } from "node:crypto";

/** An HS256 JWT of `claims` signed with `secret`. */
export function signToken(claims, secret, { expiresIn = 600 } = {}) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const exp = Math.floor(Date.now() / 1000) + expiresIn;
  const unsigned = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ ...claims, exp })}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}
