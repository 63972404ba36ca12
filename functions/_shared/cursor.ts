// Opaque keyset cursors: the last row's id, base64url-encoded.
import { badRequest } from "./errors.ts";

export function encodeCursor(id: number): string {
  return btoa(JSON.stringify({ id })).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string | undefined): number | undefined {
  if (!cursor) return undefined;
  try {
    const parsed = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
    if (Number.isSafeInteger(parsed?.id) && parsed.id > 0) return parsed.id;
  } catch {
    // fall through to the 400
  }
  throw badRequest("cursor is not one this API returned; drop it to start from the newest rows");
}
