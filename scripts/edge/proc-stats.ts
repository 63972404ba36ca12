// What the kernel says a worker process uses: CPU time of its main thread and resident memory.
//
// CPU is the main thread's utime+stime (/proc/<pid>/task/<pid>/stat): Deno runs the isolate's
// JavaScript on the process's main thread, so this is the isolate's time on the CPU, as
// edge-runtime measures it with the isolate thread's CPU clock. V8's GC helper threads and
// tokio's I/O threads are left out, as there. Waiting on I/O costs nothing. Resolution is one
// clock tick (10 ms at the usual CLK_TCK of 100).
const CLOCK_TICK_MS = 10;
const PAGE_KB = 4;

/** CPU ms of the main thread, or undefined once the process is gone. */
export function mainThreadCpuMs(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/stat`);
    // Fields after "comm)" start at field 3 (state); utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
  } catch {
    return undefined;
  }
}

/** Resident memory in MB (/proc/<pid>/statm), or undefined once the process is gone. */
export function residentMb(pid: number): number | undefined {
  try {
    const pages = Number(Deno.readTextFileSync(`/proc/${pid}/statm`).split(" ")[1]);
    return (pages * PAGE_KB) / 1024;
  } catch {
    return undefined;
  }
}
