// The gateway's verify_jwt check, as hosted Supabase applies it before a function with
// verify_jwt = true sees the request: a project JWT in `Authorization: Bearer`.
import { jwtVerify } from "jose";

export interface GatewayKeys {
  /** The project's HS256 JWT secret (legacy keys); unset: any bearer token passes. */
  jwtSecret?: string;
}

const gatewayError = (status: number, message: string) =>
  new Response(JSON.stringify({ error: { code: "unauthorized", message } }), {
    status,
    headers: { "content-type": "application/json", "access-control-allow-origin": "*" },
  });

/** undefined when the request may reach the function; else the gateway's 401. */
export async function gatewayAllows(req: Request, keys: GatewayKeys): Promise<Response | undefined> {
  const token = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  if (!token) return gatewayError(401, "Missing authorization header: send `Authorization: Bearer <key>`.");
  if (!keys.jwtSecret) return undefined;
  try {
    await jwtVerify(token, new TextEncoder().encode(keys.jwtSecret));
    return undefined;
  } catch {
    return gatewayError(401, "Invalid JWT: the key is not one this project issued.");
  }
}
