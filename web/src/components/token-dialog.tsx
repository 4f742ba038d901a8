/** Asks for the API token, checks it with the API before keeping it, and says plainly when it is refused. */
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { API_BASE, NetworkError, UnauthorizedError } from "../api.js";
import { api, session } from "../services.js";

type Check = { state: "idle" } | { state: "checking" } | { state: "refused"; message: string };

export function TokenDialog({
  problem,
  canCancel,
  onSaved,
  onCancel,
}: {
  /** Why the saved token was dropped (the API's words), if it was. */
  problem: string | null;
  canCancel: boolean;
  onSaved: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const inputId = useId();
  const helpId = useId();
  const [value, setValue] = useState("");
  const [show, setShow] = useState(false);
  const [check, setCheck] = useState<Check>({ state: "idle" });
  const [unreachable, setUnreachable] = useState<string | null>(null);

  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const token = value.trim();
    if (!token) return;
    setCheck({ state: "checking" });
    setUnreachable(null);
    try {
      await api.checkToken(token);
    } catch (err) {
      if (err instanceof UnauthorizedError) {
        setCheck({ state: "refused", message: err.message });
        return;
      }
      if (err instanceof NetworkError) {
        // Kept anyway: it is checked again as soon as the API answers.
        setUnreachable(err.message);
      }
    }
    session.setToken(token);
    setCheck({ state: "idle" });
    onSaved();
  };

  const refused = check.state === "refused" ? check.message : null;
  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby={`${inputId}-title`}
      onCancel={(e) => {
        if (canCancel) onCancel();
        else e.preventDefault();
      }}
      data-testid="token-dialog"
    >
      <form onSubmit={submit} class="dialog-body">
        <h2 id={`${inputId}-title`}>API token</h2>
        {refused ? (
          <p class="note note-error" role="alert" data-testid="token-error">
            <strong>Wrong token.</strong> The API refused it (401): {refused} Check that you copied all of it.
          </p>
        ) : problem ? (
          <p class="note note-error" role="alert" data-testid="token-error">
            <strong>The saved token was refused</strong> by the API (401): {problem} It may have been revoked,
            or the server now uses another one. Paste a valid token.
          </p>
        ) : (
          <p id={helpId} class="muted">
            The dashboard reads the coordinator API{API_BASE ? ` at ${API_BASE}` : ""} with a bearer token. It
            is kept in this browser only. <code>npm start</code> prints the local one (
            <code>API token sfts_…</code>).
          </p>
        )}
        {unreachable && (
          <p class="note" role="status">
            Cannot reach the API to check the token ({unreachable}); it will be checked when the API answers.
          </p>
        )}
        <label for={inputId} class="label">
          API token
        </label>
        <div class="token-row">
          <input
            id={inputId}
            name="token"
            // Preact's types split text and password inputs; this one switches between the two.
            type={(show ? "text" : "password") as "text"}
            class="input mono"
            autocomplete="off"
            spellcheck={false}
            autoFocus
            required
            placeholder="sfts_…"
            aria-invalid={refused ? true : undefined}
            aria-describedby={helpId}
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
          <button
            type="button"
            class="btn btn-ghost btn-small"
            aria-pressed={show}
            onClick={() => setShow(!show)}
          >
            {show ? "Hide" : "Show"}
          </button>
        </div>
        <div class="dialog-actions">
          {canCancel && (
            <button type="button" class="btn btn-ghost" onClick={onCancel}>
              Cancel
            </button>
          )}
          <button type="submit" class="btn btn-primary" disabled={check.state === "checking"}>
            {check.state === "checking" ? "Checking…" : "Save token"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
