/**
 * The page: top bar (sections, connection, theme, token), a banner when storage refuses transfers or does
 * not verify parts, the current view, and the token prompt. The Upload view is loaded on first visit (its
 * own chunk: the uploader's engine stays out of the other views' bundle).
 */
import type { FunctionComponent } from "preact";
import { useEffect, useState } from "preact/hooks";
import { formatTime } from "../format.js";
import type { Connection, PollState } from "../poller.js";
import { usePollState } from "../poller.js";
import { href, type Route, useRoute } from "../route.js";
import { poller, session } from "../services.js";
import { storageView } from "../storage-health.js";
import { applyTheme, loadTheme, NEXT_THEME, type Theme } from "../theme.js";
import { BatchDetail } from "./batch-detail.js";
import { BatchesView } from "./batches-view.js";
import { useNow } from "./bits.js";
import { ErrorsView } from "./errors-view.js";
import { Overview } from "./overview.js";
import { TokenDialog } from "./token-dialog.js";
import { TransferDetail } from "./transfer-detail.js";
import { TransfersView } from "./transfers-view.js";

export function App() {
  const route = useRoute();
  const poll = usePollState(poller);
  const [hasToken, setHasToken] = useState(session.token !== null);
  const [changingToken, setChangingToken] = useState(false);

  useEffect(() => poller.start(), []);
  useEffect(() => {
    // A refused token is never sent again; the prompt says why.
    if (poll.authProblem !== null && session.token !== null) {
      session.dropToken();
      setHasToken(false);
    }
  }, [poll.authProblem]);

  const section = route.view === "transfer" ? "transfers" : route.view === "batch" ? "batches" : route.view;
  useEffect(() => {
    const names = {
      overview: "Overview",
      transfers: "Transfers",
      batches: "Batches",
      errors: "Errors",
      upload: "Upload",
    } as const;
    document.title = `SFTS — ${names[section]}`;
  }, [section]);

  const showPrompt = !hasToken || changingToken;
  return (
    <>
      <header class="topbar">
        <div class="topbar-inner">
          <a class="brand" href={href.overview} aria-label="SFTS dashboard, overview">
            <svg viewBox="0 0 32 32" aria-hidden="true" class="brand-mark">
              <rect width="32" height="32" rx="7" />
              <path d="M9 19l7-9 7 9h-4.5v5h-5v-5z" />
            </svg>
            <span class="brand-name">SFTS</span>
          </a>
          <nav aria-label="Sections" class="tabs">
            <Tab to={href.overview} current={section === "overview"} label="Overview" />
            <Tab to={href.transfers()} current={section === "transfers"} label="Transfers" />
            <Tab to={href.batches()} current={section === "batches"} label="Batches" />
            <Tab to={href.errors} current={section === "errors"} label="Errors" />
            <Tab to={href.upload} current={section === "upload"} label="Upload" />
          </nav>
          <div class="topbar-actions">
            <ConnectionPill poll={poll} />
            <ThemeToggle />
            <button
              type="button"
              class="btn btn-ghost btn-small"
              onClick={() => setChangingToken(true)}
              aria-label="Change the API token"
            >
              Token
            </button>
          </div>
        </div>
      </header>
      <main id="main" class="main" aria-busy={poll.connection.state === "connecting"}>
        {poll.connection.state === "disconnected" && (
          <p class="stale" data-testid="stale">
            <strong>The API does not answer</strong>
            <span>
              since {formatTime(poll.connection.since)} ({poll.connection.error}).{" "}
              {poll.lastSuccessAt
                ? `What you see is from ${formatTime(poll.lastSuccessAt)}; it refreshes by itself when the API is back.`
                : "Nothing could be loaded yet; the page keeps trying."}
            </span>
          </p>
        )}
        <StorageBanner poll={poll} />
        <View route={route} />
      </main>
      <footer class="footer">
        <span>SFTS dashboard · numbers as the API reports them</span>
      </footer>
      {showPrompt && (
        <TokenDialog
          problem={poll.authProblem}
          canCancel={hasToken}
          onCancel={() => setChangingToken(false)}
          onSaved={() => {
            setHasToken(true);
            setChangingToken(false);
            poller.tokenChanged();
          }}
        />
      )}
    </>
  );
}

function Tab({ to, current, label }: { to: string; current: boolean; label: string }) {
  return (
    <a href={to} class={current ? "tab tab-current" : "tab"} aria-current={current ? "page" : undefined}>
      {label}
    </a>
  );
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case "overview":
      return <Overview />;
    case "transfers":
      return (
        <TransfersView
          key={`${route.status ?? ""}|${route.priority ?? ""}`}
          {...(route.status && { status: route.status })}
          {...(route.priority && { priority: route.priority })}
        />
      );
    case "transfer":
      return <TransferDetail id={route.id} />;
    case "batches":
      return <BatchesView key={route.status ?? ""} {...(route.status && { status: route.status })} />;
    case "batch":
      return <BatchDetail key={route.id} id={route.id} />;
    case "errors":
      return <ErrorsView />;
    case "upload":
      return <LazyUploadView />;
  }
}

/** Loaded once, on the first visit to #/upload; kept for the page's life (uploads go on in other views). */
let uploadView: Promise<FunctionComponent> | undefined;
const loadUploadView = () => {
  uploadView ??= import("./upload-view.js").then((m) => m.UploadView);
  return uploadView;
};

function LazyUploadView() {
  const [view, setView] = useState<{ Component: FunctionComponent } | { error: string } | undefined>();
  useEffect(() => {
    let live = true;
    loadUploadView().then(
      (Component) => live && setView({ Component }),
      (e: unknown) => {
        uploadView = undefined; // a later visit tries again (e.g. the chunk could not load offline)
        if (live) setView({ error: e instanceof Error ? e.message : String(e) });
      },
    );
    return () => {
      live = false;
    };
  }, []);
  if (!view) return <p class="empty muted">Loading the uploader…</p>;
  if ("error" in view)
    return (
      <p class="note note-error" role="alert">
        The uploader could not be loaded ({view.error}). Reload the page to try again.
      </p>
    );
  return <view.Component />;
}

/** Page-wide: storage refuses transfers, or serves them without verifying parts (storage-health.ts). */
function StorageBanner({ poll }: { poll: PollState }) {
  const banner = storageView(poll.health?.body.storage).banner;
  if (!banner || poll.connection.state !== "connected") return null;
  const refused = poll.health?.body.storage.serving === false;
  return (
    <p
      class={refused ? "stale storage-banner" : "stale stale-warn storage-banner"}
      data-testid="storage-banner"
      role={refused ? "alert" : "status"}
    >
      <strong>{banner.title}</strong>
      <span>{banner.text}</span>
    </p>
  );
}

function connectionText(c: Connection, now: number, lastSuccessAt: number | null): [string, string] {
  switch (c.state) {
    case "connecting":
      return ["Connecting…", "Asking the API"];
    case "connected":
      return ["Connected", lastSuccessAt ? `updated ${formatTime(lastSuccessAt)}` : "loading"];
    case "disconnected": {
      const wait = Math.max(0, Math.ceil((c.retryAt - now) / 1000));
      return ["Disconnected", wait > 0 ? `retry in ${wait} s` : "retrying…"];
    }
  }
}

function ConnectionPill({ poll }: { poll: PollState }) {
  const now = useNow(500);
  const c = poll.connection;
  const [label, detail] = connectionText(c, now, poll.lastSuccessAt);
  const title =
    c.state === "disconnected"
      ? `The API does not answer (${c.error}) since ${formatTime(c.since)}. Shown data may be stale.`
      : c.state === "connected"
        ? `The API answers; connected since ${formatTime(c.since)}`
        : "Waiting for the first answer of the API";
  return (
    <div class={`conn conn-${c.state}`} data-testid="connection" data-state={c.state} title={title}>
      <span class="conn-dot" aria-hidden="true" />
      <span role="status" aria-live="polite" class="conn-text">
        <span class="conn-label">{label}</span>
        <span class="conn-detail">{detail}</span>
      </span>
      {c.state === "disconnected" && (
        <button type="button" class="btn btn-ghost btn-small" onClick={() => poller.pollNow()}>
          Retry now
        </button>
      )}
    </div>
  );
}

const THEME_LABEL: Record<Theme, string> = {
  system: "System theme",
  light: "Light theme",
  dark: "Dark theme",
};

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(loadTheme);
  const next = NEXT_THEME[theme];
  return (
    <button
      type="button"
      class="btn btn-ghost btn-small theme-toggle"
      aria-label={`${THEME_LABEL[theme]}; switch to ${THEME_LABEL[next].toLowerCase()}`}
      title={`${THEME_LABEL[theme]} (click for ${THEME_LABEL[next].toLowerCase()})`}
      data-theme-choice={theme}
      onClick={() => {
        applyTheme(next);
        setTheme(next);
      }}
    >
      <svg viewBox="0 0 20 20" class="icon" aria-hidden="true">
        {theme === "dark" ? (
          <path d="M15.5 12.5A6.5 6.5 0 0 1 7.5 4.5a6.5 6.5 0 1 0 8 8z" />
        ) : theme === "light" ? (
          <g>
            <circle cx="10" cy="10" r="3.5" />
            <path d="M10 1.5v2.5M10 16v2.5M1.5 10H4M16 10h2.5M4 4l1.8 1.8M14.2 14.2L16 16M4 16l1.8-1.8M14.2 5.8L16 4" />
          </g>
        ) : (
          <g>
            <circle cx="10" cy="10" r="7" />
            <path d="M10 3a7 7 0 0 1 0 14z" class="fill" />
          </g>
        )}
      </svg>
      <span class="theme-name">{theme === "system" ? "Auto" : theme === "light" ? "Light" : "Dark"}</span>
    </button>
  );
}
