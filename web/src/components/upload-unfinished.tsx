/**
 * Unfinished uploads this browser remembers (the engine's resume store, IndexedDB): name, files, size,
 * when started. "Resume" opens the picker the upload was made with (folder or files): picking the same
 * files again finds the upload on the server by content and sends only what is missing. "Discard" asks in
 * the page (no window.confirm), then cancels it on the server (storage released) and forgets it.
 */
import { useEffect, useState } from "preact/hooks";
import { formatBytes, formatCount } from "../format.js";
import type { UnfinishedUpload, UploadEngineApi } from "../upload/types.js";
import { Card, When } from "./bits.js";

export function UnfinishedList({
  engine,
  refreshKey,
  onResume,
}: {
  engine: UploadEngineApi;
  /** Changes when a batch of the queue changes phase: the list is read again. */
  refreshKey: string;
  onResume: (kind: UnfinishedUpload["kind"]) => void;
}) {
  const [items, setItems] = useState<UnfinishedUpload[]>();
  const [error, setError] = useState<string>();
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let live = true;
    engine.unfinished().then(
      (list) => {
        if (!live) return;
        setItems([...list].sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1)));
        setError(undefined);
      },
      (e: unknown) => live && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [engine, refreshKey, version]);

  if (!items?.length && !error) return null;
  return (
    <Card title="Unfinished uploads" id="unfinished" class="unfinished">
      <div data-testid="unfinished">
        <p class="muted small">
          Started in this browser and not finished. To resume, pick the same files again: only what the server
          is missing is sent.
        </p>
        {error && (
          <p class="note note-error" role="alert">
            The list could not be read: {error}
          </p>
        )}
        <ul class="unfinished-list">
          {items?.map((u) => (
            <Entry
              key={u.digest}
              u={u}
              engine={engine}
              onResume={onResume}
              onGone={() => setVersion(version + 1)}
            />
          ))}
        </ul>
      </div>
    </Card>
  );
}

function Entry({
  u,
  engine,
  onResume,
  onGone,
}: {
  u: UnfinishedUpload;
  engine: UploadEngineApi;
  onResume: (kind: UnfinishedUpload["kind"]) => void;
  onGone: () => void;
}) {
  const [state, setState] = useState<"idle" | "confirm" | "discarding" | { error: string }>("idle");
  const discard = async () => {
    setState("discarding");
    try {
      await engine.discard(u.digest);
      onGone();
    } catch (e) {
      setState({ error: e instanceof Error ? e.message : String(e) });
    }
  };
  return (
    <li class="unfinished-item" data-testid="unfinished-upload" data-digest={u.digest}>
      <div class="unfinished-main">
        <span class="strong ellipsis" title={u.name}>
          {u.name}
        </span>
        <span class="muted small">
          {u.kind === "folder" ? "Folder · " : ""}
          {formatCount(u.fileCount)} file{u.fileCount === 1 ? "" : "s"} · {formatBytes(u.totalBytes)} ·
          started <When at={u.startedAt} />
        </span>
        {typeof state === "object" && (
          <span class="error-text" role="alert">
            Not discarded: {state.error}
          </span>
        )}
      </div>
      <div class="unfinished-actions">
        {state === "confirm" || state === "discarding" ? (
          <fieldset class="confirm" aria-label={`Discard ${u.name}?`}>
            <span class="small">Discard?</span>
            <button
              type="button"
              class="btn btn-small btn-danger"
              data-testid="discard-yes"
              disabled={state === "discarding"}
              onClick={() => void discard()}
            >
              Yes
            </button>
            <button
              type="button"
              class="btn btn-small"
              data-testid="discard-no"
              disabled={state === "discarding"}
              onClick={() => setState("idle")}
            >
              No
            </button>
          </fieldset>
        ) : (
          <>
            <button
              type="button"
              class="btn btn-small btn-primary"
              data-testid="unfinished-resume"
              title={`Pick the same ${u.kind === "folder" ? "folder" : "files"} again to resume`}
              onClick={() => onResume(u.kind)}
            >
              Resume
            </button>
            <button
              type="button"
              class="btn btn-small"
              data-testid="unfinished-discard"
              onClick={() => setState("confirm")}
            >
              Discard
            </button>
          </>
        )}
      </div>
    </li>
  );
}
