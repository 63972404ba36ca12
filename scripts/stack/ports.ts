// A free TCP port on loopback, for private stacks (tests, bench, screenshots, latency).
//
// Taken below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default), not by
// binding port 0: a port from that range, once closed again, can be taken as the local port of any outgoing
// connection (a test's client, pgbouncer's server connections) before the stack's process binds it, and that
// process then exits with EADDRINUSE (seen in CI: the function server of one e2e file's stack). Ports below the
// range are never given to outgoing connections, so only another listener can take one in between.
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";

const LOWEST = 20_000;
/** Ports this process has handed out: two stacks started side by side never get the same one. */
const handedOut = new Set<number>();

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768; // not Linux: the IANA range starts at 49152, so this is below it too
  }
}

function listenOn(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", () => resolve(undefined));
    srv.listen(port, "127.0.0.1", () => {
      const bound = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(bound));
    });
  });
}

export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  if (high - LOWEST >= 1_000) {
    for (let i = 0; i < 100; i++) {
      const port = LOWEST + Math.floor(Math.random() * (high - LOWEST + 1));
      if (handedOut.has(port)) continue;
      if (await listenOn(port) === port) {
        handedOut.add(port);
        return port;
      }
    }
  }
  // No room below the ephemeral range (a tuned kernel), or every try was taken: any port the kernel gives.
  const port = await listenOn(0);
  if (port === undefined) throw new Error("no free TCP port on 127.0.0.1: close some listeners and try again");
  handedOut.add(port);
  return port;
}
