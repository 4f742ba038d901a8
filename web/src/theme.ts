/** Light, dark, or the system's choice (prefers-color-scheme); index.html applies the saved one before paint. */
export type Theme = "system" | "light" | "dark";
const KEY = "sfts.theme";

export function loadTheme(): Theme {
  try {
    const t = localStorage.getItem(KEY);
    return t === "light" || t === "dark" ? t : "system";
  } catch {
    return "system";
  }
}

export function applyTheme(theme: Theme): void {
  const root = document.documentElement;
  if (theme === "system") delete root.dataset.theme;
  else root.dataset.theme = theme;
  try {
    if (theme === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, theme);
  } catch {
    // not kept across reloads
  }
}

export const NEXT_THEME: Record<Theme, Theme> = { system: "light", light: "dark", dark: "system" };
