/**
 * A presign answer's URLs in the order of the parts asked for, each part's own; a part the server did not
 * presign is BAD_ANSWER. Pure: the CLI's part runner and the dashboard's uploader share it.
 */
import type { PresignedPart } from "../../../functions/contract/schemas.js";
import { CliError, EXIT } from "../errors.js";

export function presignedInOrder(
  parts: readonly { partNumber: number }[],
  answered: readonly PresignedPart[],
): PresignedPart[] {
  const byNumber = new Map(answered.map((p) => [p.partNumber, p]));
  return parts.map((p) => {
    const url = byNumber.get(p.partNumber);
    if (!url)
      throw new CliError(
        "BAD_ANSWER",
        `The server presigned no URL for part ${p.partNumber}`,
        EXIT.UNEXPECTED,
      );
    return url;
  });
}
