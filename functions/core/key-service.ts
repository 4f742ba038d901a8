/**
 * API keys: admins create (the token is shown once), list and revoke them. Tokens are 256 random bits and
 * only their SHA-256 is stored. The first admin key comes from outside (an SST secret on AWS) and is stored
 * by ensureAdminKey, which is idempotent and never brings back a key that was revoked.
 */
import type { ApiKeyInfo, ApiKeyRole, CreatedKey } from "../contract/keys.js";
import { AppError } from "./errors.js";
import { hashToken, newApiToken, newKeyId } from "./ids.js";
import type { ApiKeyRecord, Clock, TransferRepo } from "./ports.js";

/** A first admin token shorter than this is refused: it could be guessed. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** Keys made before roles existed could do everything; they keep doing so. */
export const roleOf = (key: ApiKeyRecord): ApiKeyRole => key.role ?? "admin";

export function keyInfo(key: ApiKeyRecord): ApiKeyInfo {
  const info: ApiKeyInfo = { keyId: key.keyId, name: key.name, role: roleOf(key), createdAt: key.createdAt };
  if (key.createdBy !== undefined) info.createdBy = key.createdBy;
  if (key.revokedAt !== undefined) info.revokedAt = key.revokedAt;
  return info;
}

export interface KeyServiceDeps {
  repo: TransferRepo;
  clock?: Clock;
}

export class KeyService {
  private readonly repo: TransferRepo;
  private readonly clock: Clock;

  constructor(deps: KeyServiceDeps) {
    this.repo = deps.repo;
    this.clock = deps.clock ?? { now: () => new Date() };
  }

  requireAdmin(caller: ApiKeyRecord): void {
    if (roleOf(caller) !== "admin")
      throw new AppError("FORBIDDEN", "Only an admin API key may manage API keys.");
  }

  async create(caller: ApiKeyRecord, input: { name: string; role: ApiKeyRole }): Promise<CreatedKey> {
    this.requireAdmin(caller);
    const token = newApiToken();
    const key: ApiKeyRecord = {
      keyId: newKeyId(),
      name: input.name,
      role: input.role,
      createdAt: this.clock.now().toISOString(),
      createdBy: caller.keyId,
    };
    // 256 random bits: a clash is impossible in practice, but the write is conditional all the same.
    if (!(await this.repo.createApiKey(hashToken(token), key)))
      throw new AppError("INTERNAL", "A new API key collided with an existing one; try again.");
    return { ...keyInfo(key), token };
  }

  async list(caller: ApiKeyRecord): Promise<ApiKeyInfo[]> {
    this.requireAdmin(caller);
    return (await this.repo.listApiKeys()).map(keyInfo);
  }

  async revoke(caller: ApiKeyRecord, keyId: string): Promise<ApiKeyInfo> {
    this.requireAdmin(caller);
    if (keyId === caller.keyId)
      throw new AppError(
        "INVALID_STATE",
        "This is the key making the request; revoke it with another admin key, so that one admin key is left.",
      );
    const key = await this.repo.revokeApiKey(keyId, this.clock.now().toISOString());
    if (!key) throw new AppError("NOT_FOUND", `No API key ${keyId}.`);
    return keyInfo(key);
  }

  /**
   * Stores the first admin key (its hash) unless the table already knows it — revoked or not, so revoking
   * it through the API sticks. Safe to run on every cold start and from parallel ones.
   */
  async ensureAdminKey(token: string | undefined, name: string): Promise<"created" | "exists" | "none"> {
    if (!token) return "none";
    const hash = hashToken(token);
    if (await this.repo.getApiKey(hash)) return "exists";
    const created = await this.repo.createApiKey(hash, {
      keyId: newKeyId(),
      name,
      role: "admin",
      createdAt: this.clock.now().toISOString(),
    });
    return created ? "created" : "exists";
  }
}

/** Why a first admin token (from the SST secret) cannot be used, or undefined if it can. */
export function checkAdminToken(token: string): string | undefined {
  if (token.length < MIN_ADMIN_TOKEN_LENGTH)
    return `the admin API key must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (it is ${token.length})`;
  if (/\s/.test(token)) return "the admin API key must not contain spaces or line breaks";
  return undefined;
}
