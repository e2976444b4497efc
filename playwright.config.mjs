// Browser tests of the web UI: Playwright drives Debian's chromium (its own
// browser download cannot work offline) against the compiled Worker under
// `wrangler dev`, which tests/ui/server.mjs starts with fresh local D1 and R2.
import { defineConfig } from "@playwright/test";
import { existsSync } from "node:fs";

// The project's own Node (scripts/setup.sh puts one in target/node when the
// machine's is too old for wrangler) runs what the tests start: wrangler,
// claude. Set here, before workers start, so every process inherits it.
const NODE_BIN = new URL("target/node/bin", import.meta.url).pathname;
if (existsSync(`${NODE_BIN}/node`) && !process.env.PATH.split(":").includes(NODE_BIN)) {
  process.env.PATH = `${NODE_BIN}:${process.env.PATH}`;
}

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) {
  throw new Error(`${CHROMIUM} is missing: install Debian's chromium (sudo apt-get install -y chromium) or run scripts/setup.sh`);
}

export default defineConfig({
  testDir: "tests/ui",
  testMatch: /.*\.spec\.mjs/,
  globalSetup: "./tests/ui/server.mjs",
  // One Worker is shared; two cores run two browsers at most.
  workers: 2,
  fullyParallel: false,
  timeout: 90_000,
  expect: { timeout: 10_000 },
  reporter: [["list"], ["json", { outputFile: "target/ui/results.json" }]],
  outputDir: "target/ui/artifacts",
  use: {
    browserName: "chromium",
    headless: true,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
    },
  },
});
