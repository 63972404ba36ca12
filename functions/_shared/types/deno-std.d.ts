// deno-std on npm is plain JS. Deno takes it untyped; this gives tsc (editors,
// `npx tsc`) the signature of the one helper we use.
declare module "deno-std/async/delay.js" {
  export function delay(ms: number, options?: { signal?: AbortSignal; persistent?: boolean }): Promise<void>;
}
