/**
 * Secrets, set per stage before the first deploy and never in the repository:
 *   npx sst secret set AdminApiKey "sfts_…" --stage prod
 * AdminApiKey is the first admin API key: the coordinator stores its hash on a cold start, and with it
 * `sfts keys create` makes every other key. Linked to the API function only.
 */
import { LINKS } from "../functions/api/sst-links.js";

export function secrets() {
  return { adminKey: new sst.Secret(LINKS.adminKey) };
}
