// freePort (scripts/stack/ports.ts): below the kernel's ephemeral range, so an outgoing connection cannot take
// the port between the check and the stack's own bind; never the same port twice in one process.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "../../scripts/stack/ports.ts";

describe("freePort", () => {
  it("gives distinct, bindable ports below the ephemeral range", async () => {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    const ports = [];
    for (let i = 0; i < 20; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) expect(port).toBeLessThan(low);
    // Each can be listened on now.
    for (const port of ports.slice(0, 5)) {
      await new Promise<void>((resolve, reject) => {
        const srv = createServer().on("error", reject);
        srv.listen(port, "127.0.0.1", () => srv.close(() => resolve()));
      });
    }
  });
});
