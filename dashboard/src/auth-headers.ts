// How the dashboard sends its key: always as `apikey`, and as `Authorization: Bearer` too when it is a
// JWT (the legacy service_role key). The new secret key (sb_secret_…) is not a JWT, so it goes in `apikey`
// only, as hosted Supabase wants it; the functions check either header themselves.
export function authHeaders(key: string): Record<string, string> {
  const isJwt = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(key);
  return isJwt ? { authorization: `Bearer ${key}`, apikey: key } : { apikey: key };
}
