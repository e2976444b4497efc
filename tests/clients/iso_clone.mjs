// Clones a marketplace with isomorphic-git (an independent git
// implementation in JavaScript; it speaks protocol v0/v1 smart HTTP).
// Usage: node iso_clone.mjs URL DIR TOKEN DEPTH(0 = full)
import fs from "node:fs";
import git from "isomorphic-git";
import http from "isomorphic-git/http/node";

const [url, dir, token, depth] = process.argv.slice(2);
await git.clone({
  fs, http, dir, url,
  singleBranch: true,
  depth: Number(depth) || undefined,
  onAuth: () => ({ username: "x", password: token }),
});
