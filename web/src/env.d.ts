/// <reference types="vite/client" />
interface ImportMetaEnv {
  /** The API's address when the dashboard is hosted elsewhere (SST injects it); unset: same origin. */
  readonly VITE_SFTS_API_URL?: string;
}
