/** The page's single API client, polling loop and transfer index, around the token kept in this browser. */
import { createApi } from "./api.js";
import { Poller } from "./poller.js";
import { forgetToken, loadToken, saveToken } from "./token.js";
import { TransferIndex } from "./transfer-index.js";

let token = loadToken();

export const session = {
  get token(): string | null {
    return token;
  },
  setToken(next: string): void {
    token = next;
    saveToken(next);
  },
  /** The API refused it: never send it again. */
  dropToken(): void {
    token = null;
    forgetToken();
  },
};

export const api = createApi(() => token);
export const poller = new Poller(api, () => token !== null);
export const transferIndex = new TransferIndex(api);
