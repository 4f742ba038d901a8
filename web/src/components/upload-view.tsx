/**
 * Upload: drop or pick files and folders, each drop or pick one batch, sent at once at the chosen priority
 * by the page's one upload engine (upload/browser.ts); the queue of batches (upload-batch.tsx) and what
 * this browser remembers of unfinished uploads, to resume by picking the same files again or to discard
 * (upload-unfinished.tsx). Loaded lazily by app.tsx; the engine lives on when the view is left.
 */
import type { TargetedDragEvent, TargetedEvent } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Priority } from "../../../functions/contract/schemas.js";
import { formatBytes, formatRate } from "../format.js";
import { session } from "../services.js";
import { createBrowserEngine } from "../upload/browser.js";
import { selectionFromDrop, selectionFromInput } from "../upload/file-source.js";
import type { EngineSnapshot, Selection, UploadEngineApi } from "../upload/types.js";
import { BatchCard } from "./upload-batch.js";
import { UnfinishedList } from "./upload-unfinished.js";

/** Re-render at most this often while bytes move (the engine reports every progress event). */
const RENDER_MS = 200;

function useEngine(): UploadEngineApi {
  return useMemo(() => createBrowserEngine(() => session.token), []);
}

/** The engine's snapshot, throttled to one render per RENDER_MS. */
function useSnapshot(engine: UploadEngineApi): EngineSnapshot {
  const [snap, setSnap] = useState(() => engine.snapshot());
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = engine.subscribe(() => {
      timer ??= setTimeout(() => {
        timer = undefined;
        setSnap(engine.snapshot());
      }, RENDER_MS);
    });
    setSnap(engine.snapshot());
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [engine]);
  return snap;
}

export function UploadView() {
  const engine = useEngine();
  const snap = useSnapshot(engine);
  const [priority, setPriority] = useState<Priority>("normal");
  const [dragging, setDragging] = useState(false);
  const [dropError, setDropError] = useState<string>();
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  const start = (selection: Selection) => {
    setDropError(undefined);
    if (selection.files.length === 0 && selection.dirs.length === 0 && selection.problems.length === 0)
      return;
    engine.add(selection, priority);
  };
  const picked = (kind: "folder" | "files") => (e: TargetedEvent<HTMLInputElement>) => {
    const input = e.currentTarget;
    if (input.files && input.files.length > 0) start(selectionFromInput(input.files, kind));
    // Picking the same files again (a resume) must fire "change" again.
    input.value = "";
  };
  const onDrop = (e: TargetedDragEvent<HTMLElement>) => {
    e.preventDefault();
    setDragging(false);
    const data = e.dataTransfer;
    if (!data) return;
    // The walk reads the drop's entries synchronously first (they are gone after this handler returns).
    selectionFromDrop(data).then(start, (err: unknown) =>
      setDropError(`The drop could not be read: ${err instanceof Error ? err.message : String(err)}`),
    );
  };

  const offline = !snap.online || snap.batches.some((b) => b.phase === "offline");
  const active = snap.batches.filter((b) => ["preparing", "running", "offline"].includes(b.phase));
  const phases = snap.batches.map((b) => `${b.key}:${b.phase}`).join(",");

  return (
    <div class="view upload">
      <div class="view-head">
        <h1>Upload</h1>
        <p class="muted small" data-testid="upload-totals">
          {active.length > 0 ? (
            `${active.length} batch${active.length === 1 ? "" : "es"} sending · ${formatBytes(snap.totals.sentBytes)} of ${formatBytes(snap.totals.totalBytes)}${snap.totals.speedBps > 0 ? ` · ${formatRate(snap.totals.speedBps)}` : ""}`
          ) : (
            <>
              Each drop or pick is sent as one batch, verified part by part, as <code>sfts send</code> does.
            </>
          )}
        </p>
      </div>
      {snap.refused && (
        <p class="stale" role="alert" data-testid="upload-refused">
          <strong>Uploads are refused</strong>
          <span>{snap.refused}</span>
        </p>
      )}
      {offline && (
        <p class="stale stale-warn" role="status" data-testid="upload-offline">
          <strong>Offline</strong>
          <span>— the upload resumes by itself when the connection is back.</span>
        </p>
      )}
      <section
        class={dragging ? "dropzone is-dragging" : "dropzone"}
        aria-label="Drop files or folders here, or choose them"
        data-testid="dropzone"
        onDragEnter={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragOver={(e) => {
          e.preventDefault();
          if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
          setDragging(true);
        }}
        onDragLeave={(e) => {
          // Leaving for a child of the zone is not leaving the zone.
          if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
        }}
        onDrop={onDrop}
      >
        <svg viewBox="0 0 24 24" class="dropzone-icon" aria-hidden="true">
          <path d="M12 16V4m0 0l-4.5 4.5M12 4l4.5 4.5M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3" />
        </svg>
        <p class="dropzone-title">{dragging ? "Drop to send" : "Drop files or a folder here"}</p>
        <p class="muted small">A folder keeps its layout under its own name; the upload starts at once.</p>
        <div class="dropzone-actions">
          <label class="btn btn-primary pick">
            <input
              ref={filesInput}
              type="file"
              multiple
              class="sr-only"
              data-testid="pick-files"
              onChange={picked("files")}
            />
            Choose files
          </label>
          <label class="btn pick">
            <input
              ref={(el) => {
                folderInput.current = el;
                if (el) el.webkitdirectory = true;
              }}
              type="file"
              class="sr-only"
              data-testid="pick-folder"
              onChange={picked("folder")}
            />
            Choose folder
          </label>
          <label class="field upload-priority">
            <span class="label">Priority</span>
            <select
              class="input"
              data-testid="upload-priority"
              value={priority}
              onChange={(e) => setPriority(e.currentTarget.value as Priority)}
            >
              <option value="high">High</option>
              <option value="normal">Normal</option>
              <option value="low">Low</option>
            </select>
          </label>
        </div>
        {dropError && (
          <p class="note note-error" role="alert" data-testid="upload-problem">
            {dropError}
          </p>
        )}
      </section>

      {snap.batches.length > 0 && (
        <section class="upload-queue" aria-label="Uploads">
          <ul class="upload-batches">
            {[...snap.batches].reverse().map((b) => (
              <li key={b.key}>
                <BatchCard batch={b} engine={engine} link={snap.link} />
              </li>
            ))}
          </ul>
        </section>
      )}

      <UnfinishedList
        engine={engine}
        refreshKey={phases}
        onResume={(kind) => (kind === "folder" ? folderInput : filesInput).current?.click()}
      />
    </div>
  );
}
