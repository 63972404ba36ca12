// deno-std on npm is plain JS (see deno-std.d.ts): the signature of its media-type parser, for tsc.
declare module "deno-std/media_types/parse_media_type.js" {
  /** [lower-cased type, parameters (lower-cased keys) or undefined]; throws TypeError on a malformed header. */
  export function parseMediaType(type: string): [string, Record<string, string> | undefined];
}
