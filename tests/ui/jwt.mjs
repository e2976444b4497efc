// RS256 JWTs as Cloudflare Access issues them, signed with Node's crypto:
// the browser tests and the fixture generator (tests/fixtures/access) use
// these to play the part of an Access team.
import { generateKeyPairSync, sign } from "node:crypto";

const b64url = (data) => Buffer.from(data).toString("base64url");

/** A fresh 2048-bit RSA key pair and its public JWK under `kid`. */
export function keyPair(kid) {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" } };
}

/** A JWT with `header` fields over the defaults and `claims`, signed with `privateKey`. */
export function signJwt(privateKey, header, claims) {
  const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", ...header }));
  const body = b64url(JSON.stringify(claims));
  const signature = sign("sha256", Buffer.from(`${head}.${body}`), privateKey);
  return `${head}.${body}.${b64url(signature)}`;
}

/** A token whose header says `alg` (not RS256), with an arbitrary signature. */
export function unsignedJwt(alg, claims) {
  return `${b64url(JSON.stringify({ alg, typ: "JWT", kid: "test-key" }))}.${b64url(JSON.stringify(claims))}.${alg === "none" ? "" : b64url("not-a-signature")}`;
}
