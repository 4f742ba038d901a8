/**
 * A coordinator call awaited only until its run stops: the calls themselves take no signal (the
 * coordinator adapter retries inside, and may wait for a dark link), so a pause or going offline would
 * otherwise wait for them. The call goes on in the background; whatever it did on the server (parts
 * recorded, a file assembled) the next run learns from its own answers, asked once the calls carrying
 * part records have settled (part-records.ts `settled`).
 */
export function abortable<T>(call: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    call.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      call.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    call.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
