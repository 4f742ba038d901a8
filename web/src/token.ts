/** The API token, kept in this browser's localStorage (asked for once; dropped when the API refuses it). */
const KEY = "sfts.token";

export function loadToken(): string | null {
  try {
    const t = localStorage.getItem(KEY);
    return t?.trim() ? t.trim() : null;
  } catch {
    return null;
  }
}

export function saveToken(token: string): void {
  try {
    localStorage.setItem(KEY, token);
  } catch {
    // storage disabled (private mode): the token lives for this page only
  }
}

export function forgetToken(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}
