/**
 * The API-key part of the contract: managing who may call the coordinator. Only admin keys may create,
 * list and revoke keys; a token is shown once, when it is created, and stored only as its SHA-256.
 */
import { z } from "zod";

export const ApiKeyRole = z.enum(["admin", "user"]).meta({
  description: "admin: everything, including managing keys; user: transfers and shares only",
});
export type ApiKeyRole = z.infer<typeof ApiKeyRole>;

export const KeyId = z
  .string()
  .regex(/^key_[0-9a-z]{16}$/, "must be a key id (key_ followed by 16 characters)")
  .meta({ description: "API key id", example: "key_0a1b2c3d4e5f6g7h" });

const Timestamp = z.string().meta({ description: "ISO 8601 time", example: "2026-11-29T12:00:00.000Z" });

export const CreateKeyRequest = z
  .object({
    name: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(100, "must be at most 100 characters")
      .refine((s) => ![...s].some((ch) => ch.charCodeAt(0) < 0x20), "must not contain control characters"),
    role: ApiKeyRole.default("user"),
  })
  .strict()
  .meta({ id: "CreateKeyRequest" });
export type CreateKeyRequest = z.infer<typeof CreateKeyRequest>;

export const ApiKeyInfo = z
  .object({
    // Not KeyId: keys stored before this contract may have ids of another form, and must still list.
    keyId: z.string().meta({ description: "API key id", example: "key_0a1b2c3d4e5f6g7h" }),
    name: z.string(),
    role: ApiKeyRole,
    createdAt: Timestamp,
    createdBy: z.string().optional().meta({ description: "The admin key that created this one" }),
    revokedAt: Timestamp.optional(),
  })
  .meta({ id: "ApiKeyInfo" });
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;

export const CreatedKey = ApiKeyInfo.extend({
  token: z.string().meta({ description: "The API token (sfts_…); shown once, stored only hashed" }),
}).meta({ id: "CreatedKey" });
export type CreatedKey = z.infer<typeof CreatedKey>;

export const KeyList = z.object({ items: z.array(ApiKeyInfo) }).meta({ id: "KeyList" });
export type KeyList = z.infer<typeof KeyList>;

export const PathKey = z.object({ keyId: KeyId });
